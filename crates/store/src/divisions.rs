//! Administrative divisions: the district, its streets and towns, their communities.

use serde::Serialize;
use sqlx::Row;

use crate::sql::{Arg, Sql};
use crate::{Result, Store};

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Division {
    pub code: String,
    pub name: String,
    /// `province`, `city`, `district`, `street`, `town`, `community` or `village`.
    pub level: String,
    pub parent: Option<String>,
}

impl Store {
    /// Inserts or renames divisions; parents must come before their children.
    pub async fn upsert_divisions(&self, divisions: &[Division]) -> Result<()> {
        let mut w = self.write_tx().await?;
        for chunk in divisions.chunks(500) {
            let mut sql = Sql::new("INSERT INTO divisions (code, name, level, parent) VALUES ");
            for (i, d) in chunk.iter().enumerate() {
                if i > 0 {
                    sql.push(", ");
                }
                sql.bind_tuple([
                    Arg::from(d.code.as_str()),
                    d.name.as_str().into(),
                    d.level.as_str().into(),
                    d.parent.clone().into(),
                ]);
            }
            sql.push(
                " ON CONFLICT (code) DO UPDATE SET name = excluded.name, level = excluded.level, \
                 parent = excluded.parent",
            );
            sql.query(self.backend).execute(&mut *w.tx).await?;
        }
        w.tx.commit().await?;
        Ok(())
    }

    pub async fn divisions(&self) -> Result<Vec<Division>> {
        sqlx::query("SELECT code, name, level, parent FROM divisions ORDER BY code")
            .fetch_all(&self.pool)
            .await?
            .iter()
            .map(|r| {
                Ok(Division {
                    code: r.try_get("code")?,
                    name: r.try_get("name")?,
                    level: r.try_get("level")?,
                    parent: r.try_get("parent")?,
                })
            })
            .collect()
    }
}
