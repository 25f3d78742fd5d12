//! The month-end workbook: four sheets a PM would set up by hand — number formats, a frozen
//! header row, autofilters and column widths. Pure: figures in, `.xlsx` bytes out.

use super::decide::{EpicRow, Reconciliation};
use rust_xlsxwriter::{Color, Format, FormatAlign, Workbook, Worksheet, XlsxError};

pub const SHEETS: [&str; 4] = ["Executive summary", "Epic details", "Variance analysis", "Team performance"];

struct Formats {
    header: Format,
    hours: Format,
    percent: Format,
    money: Format,
    total: Format,
    total_hours: Format,
    total_money: Format,
}

fn formats() -> Formats {
    let header = Format::new()
        .set_bold()
        .set_background_color(Color::RGB(0x1F4E78))
        .set_font_color(Color::White)
        .set_align(FormatAlign::Center);
    Formats {
        header,
        hours: Format::new().set_num_format("#,##0.0"),
        percent: Format::new().set_num_format("0.0%"),
        money: Format::new().set_num_format("#,##0.00"),
        total: Format::new().set_bold(),
        total_hours: Format::new().set_bold().set_num_format("#,##0.0"),
        total_money: Format::new().set_bold().set_num_format("#,##0.00"),
    }
}

/// Headers with their column widths.
fn headers(sheet: &mut Worksheet, f: &Formats, columns: &[(&str, f64)]) -> Result<(), XlsxError> {
    for (col, (title, width)) in columns.iter().enumerate() {
        let col = col as u16;
        sheet.write_string_with_format(0, col, *title, &f.header)?;
        sheet.set_column_width(col, *width)?;
    }
    sheet.set_freeze_panes(1, 0)?;
    Ok(())
}

fn optional(sheet: &mut Worksheet, row: u32, col: u16, value: Option<f64>, format: &Format) -> Result<(), XlsxError> {
    match value {
        Some(v) => sheet.write_number_with_format(row, col, v, format).map(|_| ()),
        None => sheet.write_string(row, col, "—").map(|_| ()),
    }
}

pub fn build(r: &Reconciliation) -> Result<Vec<u8>, XlsxError> {
    let f = formats();
    let mut book = Workbook::new();

    let sheet = book.add_worksheet().set_name(SHEETS[0])?;
    let columns = [
        ("Project", 10.0),
        ("Name", 30.0),
        ("Type", 10.0),
        ("Hours", 10.0),
        ("Budget h", 10.0),
        ("Used", 9.0),
        ("Rate", 9.0),
        ("Amount", 13.0),
    ];
    headers(sheet, &f, &columns)?;
    for (i, p) in r.projects.iter().enumerate() {
        let row = i as u32 + 1;
        sheet.write_string(row, 0, &p.key)?;
        sheet.write_string(row, 1, &p.name)?;
        sheet.write_string(row, 2, &p.kind)?;
        sheet.write_number_with_format(row, 3, p.hours, &f.hours)?;
        optional(sheet, row, 4, p.budget, &f.hours)?;
        optional(sheet, row, 5, p.used, &f.percent)?;
        optional(sheet, row, 6, p.rate, &f.money)?;
        optional(sheet, row, 7, p.amount, &f.money)?;
    }
    let last = r.projects.len() as u32;
    sheet.autofilter(0, 0, last.max(1), columns.len() as u16 - 1)?;
    let total_row = last + 1;
    sheet.write_string_with_format(total_row, 0, "Total", &f.total)?;
    sheet.write_number_with_format(total_row, 3, r.total_hours, &f.total_hours)?;
    let amount: f64 = r.projects.iter().filter_map(|p| p.amount).sum();
    sheet.write_number_with_format(total_row, 7, amount, &f.total_money)?;

    let epic_columns = [
        ("Project", 10.0),
        ("Epic", 26.0),
        ("Forecast h", 11.0),
        ("Actual h", 10.0),
        ("This month h", 13.0),
        ("Variance h", 11.0),
        ("Variance", 10.0),
        ("Team", 34.0),
    ];
    let write_epics = |sheet: &mut Worksheet, rows: &[&EpicRow]| -> Result<(), XlsxError> {
        headers(sheet, &f, &epic_columns)?;
        for (i, e) in rows.iter().enumerate() {
            let row = i as u32 + 1;
            sheet.write_string(row, 0, &e.project)?;
            sheet.write_string(row, 1, &e.epic)?;
            sheet.write_number_with_format(row, 2, e.forecast, &f.hours)?;
            sheet.write_number_with_format(row, 3, e.actual, &f.hours)?;
            sheet.write_number_with_format(row, 4, e.month_hours, &f.hours)?;
            sheet.write_number_with_format(row, 5, e.variance, &f.hours)?;
            sheet.write_number_with_format(row, 6, e.variance_share, &f.percent)?;
            sheet.write_string(row, 7, &e.team)?;
        }
        sheet.autofilter(0, 0, (rows.len() as u32).max(1), epic_columns.len() as u16 - 1)?;
        Ok(())
    };
    let all: Vec<&EpicRow> = r.epics.iter().collect();
    write_epics(book.add_worksheet().set_name(SHEETS[1])?, &all)?;
    let flagged: Vec<&EpicRow> = r.variances().collect();
    write_epics(book.add_worksheet().set_name(SHEETS[2])?, &flagged)?;

    let sheet = book.add_worksheet().set_name(SHEETS[3])?;
    let columns = [
        ("Person", 22.0),
        ("Hours", 10.0),
        ("Expected h", 11.0),
        ("Logged", 9.0),
        ("Days logged", 12.0),
        ("Projects", 36.0),
    ];
    headers(sheet, &f, &columns)?;
    for (i, p) in r.people.iter().enumerate() {
        let row = i as u32 + 1;
        sheet.write_string(row, 0, &p.name)?;
        sheet.write_number_with_format(row, 1, p.hours, &f.hours)?;
        sheet.write_number_with_format(row, 2, p.expected, &f.hours)?;
        sheet.write_number_with_format(row, 3, p.share, &f.percent)?;
        sheet.write_number(row, 4, p.days_logged as f64)?;
        sheet.write_string(row, 5, &p.projects)?;
    }
    sheet.autofilter(0, 0, (r.people.len() as u32).max(1), columns.len() as u16 - 1)?;
    book.save_to_buffer()
}
