//! Opening a store from a URL, and running the embedded migrations.

use super::{Pool, Result, Store, StoreError};
use sqlx::{
    postgres::{PgConnectOptions, PgPoolOptions},
    sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous},
    ConnectOptions, Connection,
};
use std::{path::Path, str::FromStr, time::Duration};

const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

static POSTGRES_MIGRATIONS: sqlx::migrate::Migrator = sqlx::migrate!("migrations/postgres");
static SQLITE_MIGRATIONS: sqlx::migrate::Migrator = sqlx::migrate!("migrations/sqlite");

impl Store {
    /// Opens `postgres://…` or `sqlite://…`, checking that the server answers.
    /// Does not migrate; call [`Store::migrate`].
    pub async fn connect(url: &str) -> Result<Store> {
        let display_url = redact(url);
        let unavailable = |reason: String| StoreError::Unavailable { url: display_url.clone(), reason };
        let pool = if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            let options = PgConnectOptions::from_str(url).map_err(|e| unavailable(e.to_string()))?;
            check_postgres(&options).await.map_err(unavailable)?;
            let pool =
                PgPoolOptions::new().max_connections(10).acquire_timeout(CONNECT_TIMEOUT).connect_lazy_with(options);
            Pool::Postgres(pool)
        } else if url.starts_with("sqlite:") {
            let options = sqlite_options(url).map_err(unavailable)?;
            let pool = SqlitePoolOptions::new()
                .max_connections(4)
                .acquire_timeout(CONNECT_TIMEOUT)
                .connect_with(options)
                .await
                .map_err(|e| unavailable(e.to_string()))?;
            Pool::Sqlite(pool)
        } else {
            return Err(StoreError::UnsupportedUrl(display_url));
        };
        Ok(Store {
            pool,
            display_url,
            writer: Default::default(),
            faults: Default::default(),
            recorder: Default::default(),
        })
    }

    /// This store on connections of its own (PostgreSQL), for the ack path: workers busy
    /// claiming and completing never keep a request waiting for a connection. SQLite has one
    /// writer whatever the pool, so the same store.
    pub(super) fn for_acks(&self) -> Store {
        match &self.pool {
            Pool::Postgres(pool) => {
                let options = (*pool.connect_options()).clone();
                let own = PgPoolOptions::new()
                    .max_connections(super::group_commit::CONNECTIONS)
                    .acquire_timeout(CONNECT_TIMEOUT)
                    .connect_lazy_with(options);
                Store { pool: Pool::Postgres(own), ..self.clone() }
            }
            Pool::Sqlite(_) => self.clone(),
        }
    }

    /// The embedded default: a SQLite file `pmbot.db` in `dir` (created if missing).
    pub async fn open_in_dir(dir: &Path) -> Result<Store> {
        Store::connect(&sqlite_url(&dir.join("pmbot.db"))).await
    }

    /// Applies the backend's migrations that have not run yet.
    pub async fn migrate(&self) -> Result<()> {
        match &self.pool {
            Pool::Postgres(pool) => POSTGRES_MIGRATIONS.run(pool).await?,
            Pool::Sqlite(pool) => SQLITE_MIGRATIONS.run(pool).await?,
        }
        Ok(())
    }
}

/// `sqlite://` URL for a file path.
pub fn sqlite_url(path: &Path) -> String {
    format!("sqlite://{}", path.display())
}

async fn check_postgres(options: &PgConnectOptions) -> Result<(), String> {
    match tokio::time::timeout(CONNECT_TIMEOUT, options.connect()).await {
        Ok(Ok(connection)) => {
            let _ = connection.close().await;
            Ok(())
        }
        Ok(Err(err)) => Err(err.to_string()),
        Err(_) => Err(format!("no answer within {} s", CONNECT_TIMEOUT.as_secs())),
    }
}

fn sqlite_options(url: &str) -> Result<SqliteConnectOptions, String> {
    let options = SqliteConnectOptions::from_str(url).map_err(|e| e.to_string())?;
    let file = options.get_filename();
    if let Some(parent) = file.parent().filter(|p| !p.as_os_str().is_empty()) {
        std::fs::create_dir_all(parent).map_err(|e| format!("cannot create {}: {e}", parent.display()))?;
    }
    Ok(options
        .create_if_missing(true)
        .journal_mode(SqliteJournalMode::Wal)
        .synchronous(SqliteSynchronous::Normal)
        .busy_timeout(Duration::from_secs(5))
        .foreign_keys(true))
}

/// Removes the password from a URL so it can be shown: in the authority (`user:pw@`) and in
/// the query (`?password=…`, `&sslpassword=…`).
pub fn redact(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_string();
    };
    let authority_end = rest.find(['/', '?']).unwrap_or(rest.len());
    let (authority, path) = rest.split_at(authority_end);
    let path = redact_query(path);
    match authority.rsplit_once('@') {
        Some((credentials, host)) => {
            let user = credentials.split_once(':').map_or(credentials, |(user, _)| user);
            let hidden = if credentials.contains(':') { ":***" } else { "" };
            format!("{scheme}://{user}{hidden}@{host}{path}")
        }
        None => format!("{scheme}://{authority}{path}"),
    }
}

fn redact_query(path: &str) -> String {
    let Some((before, query)) = path.split_once('?') else {
        return path.to_string();
    };
    let pairs: Vec<String> = query
        .split('&')
        .map(|pair| match pair.split_once('=') {
            Some((name, _)) if name.to_ascii_lowercase().contains("password") => format!("{name}=***"),
            _ => pair.to_string(),
        })
        .collect();
    format!("{before}?{}", pairs.join("&"))
}

#[cfg(test)]
mod tests {
    use super::redact;

    #[test]
    fn passwords_never_reach_messages() {
        assert_eq!(redact("postgres://bot:s3cret@db:5432/pm"), "postgres://bot:***@db:5432/pm");
        assert_eq!(redact("postgres://bot@db/pm"), "postgres://bot@db/pm");
        assert_eq!(redact("sqlite:///tmp/x.db"), "sqlite:///tmp/x.db");
        assert_eq!(redact("postgres://db/pm?user=bot&password=s3cret"), "postgres://db/pm?user=bot&password=***");
        assert_eq!(
            redact("postgres://db?PASSWORD=s3cret&sslmode=require"),
            "postgres://db?PASSWORD=***&sslmode=require"
        );
        assert_eq!(redact("postgres://a:b@db/pm?sslpassword=k"), "postgres://a:***@db/pm?sslpassword=***");
        assert!(!redact("postgresql://u:p%40ss@h/d?password=x").contains('x'));
    }
}
