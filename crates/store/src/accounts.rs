//! Staff accounts: a role and a division scope each. Password hashing happens above this layer.

use serde::Serialize;
use sqlx::AssertSqlSafe;
use sqlx::Row;
use zhucan_core::{DivisionCode, Role, Username};

use crate::audit::{self, Actor, Entry};
use crate::{DbError, Result, Store, new_id, now_text, parse_stored};

#[derive(Debug, Clone, Serialize)]
pub struct Account {
    pub id: String,
    pub username: Username,
    pub display_name: String,
    #[serde(skip)]
    pub password_hash: String,
    pub role: Role,
    pub scope: DivisionCode,
    pub active: bool,
    pub created_at: String,
}

pub struct NewAccount {
    pub username: Username,
    pub display_name: String,
    pub password_hash: String,
    pub role: Role,
    pub scope: DivisionCode,
}

const COLUMNS: &str = "id, username, display_name, password_hash, role, scope, active, created_at";

fn account(row: &sqlx::any::AnyRow) -> Result<Account> {
    Ok(Account {
        id: row.try_get("id")?,
        username: parse_stored("username", &row.try_get::<String, _>("username")?)?,
        display_name: row.try_get("display_name")?,
        password_hash: row.try_get("password_hash")?,
        role: parse_stored("role", &row.try_get::<String, _>("role")?)?,
        scope: parse_stored("scope", &row.try_get::<String, _>("scope")?)?,
        active: row.try_get::<i64, _>("active")? != 0,
        created_at: row.try_get("created_at")?,
    })
}

impl Store {
    pub async fn create_account(&self, actor: &Actor, new: NewAccount) -> Result<Account> {
        let id = new_id();
        let now = now_text();
        let mut w = self.write_tx().await?;
        let exists: Option<String> =
            sqlx::query_scalar("SELECT id FROM accounts WHERE username = $1")
                .bind(new.username.as_str())
                .fetch_optional(&mut *w.tx)
                .await?;
        if exists.is_some() {
            return Err(DbError::Duplicate("username"));
        }
        sqlx::query(
            "INSERT INTO accounts (id, username, display_name, password_hash, role, scope, active, created_at) \
             VALUES ($1, $2, $3, $4, $5, $6, 1, $7)",
        )
        .bind(id.as_str())
        .bind(new.username.as_str())
        .bind(new.display_name.as_str())
        .bind(new.password_hash.as_str())
        .bind(new.role.slug())
        .bind(new.scope.as_str())
        .bind(now.as_str())
        .execute(&mut *w.tx)
        .await?;
        let after = serde_json::json!({
            "username": new.username.as_str(), "display_name": new.display_name,
            "role": new.role.slug(), "scope": new.scope.as_str(),
        });
        audit::append(
            &mut w.tx,
            &self.crypto,
            actor,
            &[Entry {
                action: "create",
                entity: "account",
                entity_id: id.clone(),
                division_code: Some(new.scope.as_str().to_owned()),
                before: None,
                after: Some(after),
            }],
        )
        .await?;
        w.tx.commit().await?;
        self.account(&id).await?.ok_or(DbError::NotFound)
    }

    pub async fn account(&self, id: &str) -> Result<Option<Account>> {
        let sql = format!("SELECT {COLUMNS} FROM accounts WHERE id = $1");
        sqlx::query(AssertSqlSafe(sql))
            .bind(id)
            .fetch_optional(&self.pool)
            .await?
            .as_ref()
            .map(account)
            .transpose()
    }

    pub async fn account_by_username(&self, username: &str) -> Result<Option<Account>> {
        let sql = format!("SELECT {COLUMNS} FROM accounts WHERE username = $1");
        sqlx::query(AssertSqlSafe(sql))
            .bind(username)
            .fetch_optional(&self.pool)
            .await?
            .as_ref()
            .map(account)
            .transpose()
    }

    pub async fn accounts(&self) -> Result<Vec<Account>> {
        let sql = format!("SELECT {COLUMNS} FROM accounts ORDER BY username");
        sqlx::query(AssertSqlSafe(sql))
            .fetch_all(&self.pool)
            .await?
            .iter()
            .map(account)
            .collect()
    }
}
