//! Tickets' sentence embeddings, kept so that the board is embedded once, not per worker.

use super::{on_pool, Result, Store, WorkspaceId};
use crate::workflows::matching::TicketVector;
use chrono::{DateTime, Utc};

fn to_bytes(vector: &[f32]) -> Vec<u8> {
    vector.iter().flat_map(|x| x.to_le_bytes()).collect()
}

fn from_bytes(bytes: &[u8]) -> Vec<f32> {
    bytes.chunks_exact(4).map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]])).collect()
}

impl Store {
    /// Every stored ticket vector of the workspace.
    pub async fn ticket_vectors(&self, ws: &WorkspaceId) -> Result<Vec<TicketVector>> {
        let sql = "SELECT ticket_key, fingerprint, vector FROM ticket_embeddings WHERE workspace_id = $1";
        let rows: Vec<(String, String, Vec<u8>)> =
            on_pool!(self, |pool| sqlx::query_as(sql).bind(ws.as_str()).fetch_all(pool).await)?;
        Ok(rows
            .into_iter()
            .map(|(key, fingerprint, bytes)| TicketVector { key, fingerprint, vector: from_bytes(&bytes) })
            .collect())
    }

    /// Keeps the vectors (a ticket's newer vector replaces its older one).
    pub async fn put_ticket_vectors(
        &self,
        ws: &WorkspaceId,
        vectors: &[TicketVector],
        at: DateTime<Utc>,
    ) -> Result<()> {
        let sql = "INSERT INTO ticket_embeddings (workspace_id, ticket_key, fingerprint, vector, updated_at) \
                   VALUES ($1, $2, $3, $4, $5) ON CONFLICT (workspace_id, ticket_key) DO UPDATE SET \
                   fingerprint = excluded.fingerprint, vector = excluded.vector, updated_at = excluded.updated_at";
        for v in vectors {
            on_pool!(self, |pool| sqlx::query(sql)
                .bind(ws.as_str())
                .bind(&v.key)
                .bind(&v.fingerprint)
                .bind(to_bytes(&v.vector))
                .bind(at)
                .execute(pool)
                .await
                .map(|_| ()))?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn a_vector_survives_its_bytes() {
        let v = vec![0.25f32, -1.5, 3.0e-7];
        assert_eq!(super::from_bytes(&super::to_bytes(&v)), v);
    }
}
