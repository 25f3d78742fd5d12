//! `pmbot bench match`: one message at a time against 1k, 10k and 100k synthetic open
//! tickets: decisions per second, p50/p99 latency, the index build time, and the cost of
//! updating one ticket against rebuilding the index.

use crate::models::Embedder;
use crate::workflows::matching::{MatchMessage, MatchTicket, Matcher, TicketVector};
use std::time::{Duration, Instant};

const WORDS: &[&str] = &[
    "login",
    "session",
    "export",
    "invoice",
    "billing",
    "dashboard",
    "chart",
    "timezone",
    "email",
    "digest",
    "webhook",
    "retry",
    "payment",
    "stripe",
    "refund",
    "proration",
    "report",
    "csv",
    "pdf",
    "filter",
    "search",
    "tenant",
    "workspace",
    "admin",
    "sso",
    "okta",
    "azure",
    "saml",
    "password",
    "reset",
    "token",
    "cache",
    "latency",
    "timeout",
    "queue",
    "worker",
    "mobile",
    "safari",
    "widget",
    "layout",
    "currency",
    "rounding",
    "locale",
    "translation",
    "notification",
    "slack",
    "audit",
    "log",
    "permission",
    "role",
    "import",
    "upload",
    "attachment",
    "storage",
    "quota",
    "limit",
    "plan",
    "trial",
    "onboarding",
    "signup",
];
const VERBS: &[&str] = &["fails", "breaks", "is slow", "shows wrong", "duplicates", "drops", "times out on", "ignores"];

/// A deterministic pseudo-random sequence (xorshift), so runs compare.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> usize {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0 as usize
    }

    fn word(&mut self) -> &'static str {
        WORDS[self.next() % WORDS.len()]
    }
}

fn tickets(n: usize, rng: &mut Rng) -> Vec<MatchTicket> {
    (1..=n)
        .map(|i| {
            let title =
                format!("{} {} {} {}{}", rng.word(), rng.word(), VERBS[rng.next() % VERBS.len()], rng.word(), i % 97);
            let description = (0..12).map(|_| rng.word()).collect::<Vec<_>>().join(" ");
            MatchTicket {
                key: format!("BEN-{i}"),
                title,
                description,
                status: ["todo", "in_progress", "in_review", "backlog"][i % 4].into(),
                assignee: None,
                epic: None,
                labels: vec![rng.word().to_string()],
                comments: vec![],
                updated_at: None,
            }
        })
        .collect()
}

/// The synthetic message about `about` (every fifth says a PR is up).
fn message_about(n: usize, about: &MatchTicket, rng: &mut Rng) -> MatchMessage {
    let text = format!(
        "hey, {} {} again for a customer, {} {}",
        about.title,
        rng.word(),
        rng.word(),
        if n.is_multiple_of(5) { "PR is up" } else { "" }
    );
    MatchMessage {
        id: format!("m{n}"),
        channel: "eng".into(),
        user: "ana".into(),
        ts: String::new(),
        text,
        thread: None,
    }
}

fn percentile(sorted: &[Duration], q: f64) -> f64 {
    sorted[((sorted.len() - 1) as f64 * q).round() as usize].as_secs_f64() * 1000.0
}

fn rss_mib() -> Option<f64> {
    super::http::rss_kib(std::process::id()).map(|k| k as f64 / 1024.0)
}

/// With the local embedding model: the model's resident memory, the board embedded (once,
/// as the store keeps it), the index built from those stored vectors, and each decision
/// including its message's embedding — against words alone on the same board and messages.
pub fn run_with_embeddings(
    embedder: std::sync::Arc<Embedder>,
    sizes: &[usize],
    messages: usize,
    model_mib: Option<f64>,
    out: &mut dyn std::io::Write,
) -> Result<(), crate::models::ModelError> {
    let _ = writeln!(
        out,
        "with local embeddings (all-MiniLM-L6-v2 on the CPU){}",
        model_mib.map(|m| format!(" · model resident memory {m:.0} MiB")).unwrap_or_default()
    );
    // The example bank is embedded once per process, before any board.
    let started = Instant::now();
    let bank = crate::workflows::matching::semantic::Bank::shared(&embedder)?;
    let _ = writeln!(
        out,
        "  the example bank ({} messages) embedded in {:.1} s, once per process",
        bank.len(),
        started.elapsed().as_secs_f64()
    );
    for &size in sizes {
        let mut rng = Rng(0x5EED_0000 + size as u64);
        let board = tickets(size, &mut rng);
        let started = Instant::now();
        let mut first = Matcher::new(board.clone());
        first.embed_with(embedder.clone(), &[])?;
        let embed_board = started.elapsed();
        let stored: Vec<TicketVector> = first.take_fresh_vectors();
        let started = Instant::now();
        let mut matcher = Matcher::new(board.clone());
        matcher.embed_with(embedder.clone(), &stored)?;
        let build = started.elapsed();
        let mut words_only = Matcher::new(board.clone());
        let (mut with, mut without) = (Vec::with_capacity(messages), Vec::with_capacity(messages));
        for n in 0..messages {
            let message = message_about(n, &board[rng.next() % board.len()], &mut rng);
            let started = Instant::now();
            std::hint::black_box(words_only.decide(&message));
            without.push(started.elapsed());
            let started = Instant::now();
            std::hint::black_box(matcher.decide(&message));
            with.push(started.elapsed());
        }
        with.sort();
        without.sort();
        let p99 = percentile(&with, 0.99);
        let verdict = match size {
            10_000 if p99 < 15.0 => " (meets the < 15 ms target at 10k)",
            10_000 => " (MISSES the < 15 ms target at 10k)",
            _ => "",
        };
        let _ = writeln!(
            out,
            "  {size:>7} tickets: board embedded in {:>8.1} s ({:.0} tickets/s, once; stored) · index built from stored vectors in {:>7.1} ms · p50 {:.2} ms · p99 {:.2} ms{verdict} · {:.1}× words alone's p99 ({:.3} ms)",
            embed_board.as_secs_f64(),
            size as f64 / embed_board.as_secs_f64(),
            build.as_secs_f64() * 1000.0,
            percentile(&with, 0.5),
            p99,
            p99 / percentile(&without, 0.99).max(1e-9),
            percentile(&without, 0.99),
        );
    }
    Ok(())
}

/// Loads the model (its resident memory measured around the load) for `run_with_embeddings`.
pub fn load_model() -> Result<(std::sync::Arc<Embedder>, Option<f64>), crate::models::ModelError> {
    let before = rss_mib();
    let embedder = Embedder::load(&crate::models::model_dir(&crate::models::models_dir()))?;
    let after = rss_mib();
    Ok((std::sync::Arc::new(embedder), before.zip(after).map(|(b, a)| a - b)))
}

pub fn run(sizes: &[usize], messages: usize, out: &mut dyn std::io::Write) {
    let _ = writeln!(out, "pmbot matcher benchmark · {messages} messages per size · one message at a time");
    if cfg!(debug_assertions) {
        let _ = writeln!(
            out,
            "(a debug build: these figures are not representative; use cargo run --release -- bench match)"
        );
    }
    for &size in sizes {
        let mut rng = Rng(0x5EED_0000 + size as u64);
        let board = tickets(size, &mut rng);
        let started = Instant::now();
        let mut matcher = Matcher::new(board.clone());
        let build = started.elapsed();
        let mut latencies = Vec::with_capacity(messages);
        for n in 0..messages {
            let message = message_about(n, &board[rng.next() % board.len()], &mut rng);
            let started = Instant::now();
            std::hint::black_box(matcher.decide(&message));
            latencies.push(started.elapsed());
        }
        latencies.sort();
        let total: Duration = latencies.iter().sum();
        let at = |q: f64| percentile(&latencies, q);
        let mut changed = board[size / 2].clone();
        changed.title.push_str(" urgent");
        let started = Instant::now();
        matcher.update_ticket(changed);
        let update = started.elapsed();
        let verdict = if size == 10_000 {
            if at(0.99) < 2.0 {
                " (meets the < 2 ms target at 10k)"
            } else {
                " (MISSES the < 2 ms target at 10k)"
            }
        } else {
            ""
        };
        let _ = writeln!(
            out,
            "  {size:>7} tickets: build {:>8.1} ms · {:>8.0} decisions/s · p50 {:.3} ms · p99 {:.3} ms{verdict} · one ticket updated in {:.3} ms ({:.0}× faster than a rebuild)",
            build.as_secs_f64() * 1000.0,
            messages as f64 / total.as_secs_f64(),
            at(0.5),
            at(0.99),
            update.as_secs_f64() * 1000.0,
            build.as_secs_f64() / update.as_secs_f64().max(1e-9),
        );
    }
}
