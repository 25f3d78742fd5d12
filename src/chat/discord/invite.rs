//! The OAuth2 URL that adds pmbot to a Discord server: the `bot` and `applications.commands`
//! scopes, and exactly the permissions pmbot uses, each named (Discord's permission bits).

/// What pmbot does in a server's channels, and the permission each needs.
pub const PERMISSIONS: &[(&str, u64)] = &[
    ("View Channels (read the channels it is in)", 1 << 10),
    ("Send Messages (standups, digests, answers)", 1 << 11),
    ("Embed Links (ticket links unfurled)", 1 << 14),
    ("Attach Files (the month-end workbook, charts)", 1 << 15),
    ("Read Message History (messages missed while away)", 1 << 16),
    ("Send Messages in Threads (replies where the conversation is)", 1 << 38),
];

/// The permissions integer of `PERMISSIONS`.
pub fn permissions() -> u64 {
    PERMISSIONS.iter().fold(0, |all, (_, bit)| all | bit)
}

#[derive(Debug, PartialEq, thiserror::Error)]
#[error("DISCORD_APPLICATION_ID must be the application's id (a snowflake: 17 to 20 digits, from the Developer Portal's General Information), not {0:?}")]
pub struct NotAnApplicationId(pub String);

/// The URL a server's admin opens to add pmbot.
pub fn invite_url(application_id: &str) -> Result<String, NotAnApplicationId> {
    let id = application_id.trim();
    if !(17..=20).contains(&id.len()) || !id.bytes().all(|b| b.is_ascii_digit()) {
        return Err(NotAnApplicationId(application_id.to_string()));
    }
    Ok(format!(
        "https://discord.com/oauth2/authorize?client_id={id}&scope=bot%20applications.commands&permissions={}",
        permissions()
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_url_asks_for_both_scopes_and_only_the_permissions_pmbot_uses() {
        let url = invite_url("1184412345678901234").unwrap();
        assert_eq!(
            url,
            "https://discord.com/oauth2/authorize?client_id=1184412345678901234&scope=bot%20applications.commands&permissions=274878024704"
        );
        assert_eq!(permissions() & (1 << 3), 0, "never Administrator");
    }

    #[test]
    fn anything_but_a_snowflake_is_refused() {
        for bad in ["", "abc", "123", "1184412345678901234567", "11844123456789012x4"] {
            assert!(invite_url(bad).is_err(), "{bad:?}");
        }
    }
}
