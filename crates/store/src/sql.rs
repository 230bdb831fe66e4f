//! Dynamic SQL. Placeholders are rendered per backend when the query is built: `$n` for
//! PostgreSQL, `?` for SQLite — SQLite resolves each `$n` by a linear search of the names seen
//! so far, which makes a 10,000-parameter bulk INSERT take seconds to parse.

use sqlx::Any;

use crate::{Backend, Result};
use sqlx::AssertSqlSafe;
use sqlx::any::AnyArguments;
use sqlx::query::Query;

#[derive(Debug, Clone)]
pub(crate) enum Arg {
    Text(String),
    OptText(Option<String>),
    Int(i64),
    Bytes(Vec<u8>),
    OptBytes(Option<Vec<u8>>),
}

impl From<&str> for Arg {
    fn from(v: &str) -> Arg {
        Arg::Text(v.to_owned())
    }
}
impl From<String> for Arg {
    fn from(v: String) -> Arg {
        Arg::Text(v)
    }
}
impl From<Option<String>> for Arg {
    fn from(v: Option<String>) -> Arg {
        Arg::OptText(v)
    }
}
impl From<i64> for Arg {
    fn from(v: i64) -> Arg {
        Arg::Int(v)
    }
}
impl From<Vec<u8>> for Arg {
    fn from(v: Vec<u8>) -> Arg {
        Arg::Bytes(v)
    }
}
impl From<Option<Vec<u8>>> for Arg {
    fn from(v: Option<Vec<u8>>) -> Arg {
        Arg::OptBytes(v)
    }
}

impl rusqlite::ToSql for Arg {
    fn to_sql(&self) -> rusqlite::Result<rusqlite::types::ToSqlOutput<'_>> {
        match self {
            Arg::Text(v) => v.to_sql(),
            Arg::OptText(v) => v.to_sql(),
            Arg::Int(v) => v.to_sql(),
            Arg::Bytes(v) => v.to_sql(),
            Arg::OptBytes(v) => v.to_sql(),
        }
    }
}

/// A value a column of either driver decodes into.
pub(crate) trait ColumnValue:
    for<'r> sqlx::Decode<'r, Any> + sqlx::Type<Any> + rusqlite::types::FromSql
{
}

impl<T> ColumnValue for T where
    T: for<'r> sqlx::Decode<'r, Any> + sqlx::Type<Any> + rusqlite::types::FromSql
{
}

/// A result row of either driver: sqlx's, or the SQLite reader's (`reader::NamedRow`).
pub(crate) trait Columns {
    fn column<T: ColumnValue>(&self, name: &str) -> Result<T>;
}

impl Columns for sqlx::any::AnyRow {
    fn column<T: ColumnValue>(&self, name: &str) -> Result<T> {
        Ok(sqlx::Row::try_get(self, name)?)
    }
}

/// Statements with more parameters than this are prepared afresh each time, not cached.
const MAX_CACHED_ARGS: usize = 64;

/// Stands for a placeholder until the backend is known.
const MARK: char = '\u{0}';

#[derive(Debug, Default)]
pub(crate) struct Sql {
    text: String,
    args: Vec<Arg>,
    rendered: String,
    /// Keep the prepared form even with many parameters: for statements of a fixed shape.
    cache: bool,
}

impl Sql {
    pub fn new(text: &str) -> Sql {
        Sql {
            text: text.to_owned(),
            args: Vec::new(),
            rendered: String::new(),
            cache: false,
        }
    }

    /// Marks a statement whose text repeats exactly (fixed-size batches), so preparing it once
    /// serves every execution.
    pub fn cached(&mut self) -> &mut Self {
        self.cache = true;
        self
    }

    pub fn push(&mut self, text: &str) -> &mut Self {
        self.text.push_str(text);
        self
    }

    /// Appends a placeholder for `arg`.
    pub fn bind(&mut self, arg: impl Into<Arg>) -> &mut Self {
        self.args.push(arg.into());
        self.text.push(MARK);
        self
    }

    /// Appends `(p1, p2, …)` for one row of values.
    pub fn bind_tuple(&mut self, args: impl IntoIterator<Item = Arg>) -> &mut Self {
        self.text.push('(');
        for (i, arg) in args.into_iter().enumerate() {
            if i > 0 {
                self.text.push_str(", ");
            }
            self.bind(arg);
        }
        self.text.push(')');
        self
    }

    fn render(&self, backend: Backend, into: &mut String) {
        into.clear();
        for (n, part) in self.text.split(MARK).enumerate() {
            if n > 0 {
                match backend {
                    Backend::Sqlite => into.push('?'),
                    Backend::Postgres => {
                        into.push('$');
                        into.push_str(&n.to_string());
                    }
                }
            }
            into.push_str(part);
        }
    }

    /// The text for SQLite, for the calling thread's reader (`reader`).
    pub fn rendered_for_sqlite(&self) -> String {
        let mut text = String::with_capacity(self.text.len());
        self.render(Backend::Sqlite, &mut text);
        text
    }

    pub fn args(&self) -> &[Arg] {
        &self.args
    }

    pub fn query(&mut self, backend: Backend) -> Query<'_, Any, AnyArguments> {
        let mut rendered = std::mem::take(&mut self.rendered);
        self.render(backend, &mut rendered);
        self.rendered = rendered;
        // Statements of varying length are not cached: each would keep a prepared form (and its
        // last bound values) for good.
        let cache = self.cache || self.args.len() <= MAX_CACHED_ARGS;
        self.args.iter().fold(
            sqlx::query(AssertSqlSafe(self.rendered.as_str())).persistent(cache),
            |q, arg| match arg {
                Arg::Text(v) => q.bind(v.as_str()),
                Arg::OptText(v) => q.bind(v.as_deref()),
                Arg::Int(v) => q.bind(*v),
                Arg::Bytes(v) => q.bind(v.as_slice()),
                Arg::OptBytes(v) => q.bind(v.as_deref()),
            },
        )
    }
}

/// Rows per multi-row INSERT: about this many parameters a statement.
const BATCH_PARAMS: usize = 2000;

/// Inserts `rows` (values in `columns` order) in fixed-size multi-row statements, each prepared
/// once per connection, and the remainder row by row.
pub(crate) async fn insert_rows<R: AsRef<[Arg]>>(
    conn: &mut sqlx::AnyConnection,
    table: &str,
    columns: &str,
    rows: &[R],
) -> Result<()> {
    let Some(width) = rows.first().map(|r| r.as_ref().len()) else {
        return Ok(());
    };
    let batch = (BATCH_PARAMS / width).max(1);
    let backend = Backend::of(conn);
    let full = rows.len() / batch * batch;
    let (batched, rest) = rows.split_at(full);
    for chunk in batched.chunks(batch).chain(rest.chunks(1)) {
        let mut sql = Sql::new(&format!("INSERT INTO {table} ({columns}) VALUES "));
        for (i, row) in chunk.iter().enumerate() {
            if i > 0 {
                sql.push(", ");
            }
            sql.bind_tuple(row.as_ref().iter().cloned());
        }
        sql.cached().query(backend).execute(&mut *conn).await?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn placeholders_are_rendered_per_backend() {
        let mut sql = Sql::new("SELECT a FROM t WHERE b = ");
        sql.bind("x")
            .push(" AND c IN ")
            .bind_tuple([Arg::Int(1), Arg::Int(2)]);
        let mut text = String::new();
        sql.render(Backend::Postgres, &mut text);
        assert_eq!(text, "SELECT a FROM t WHERE b = $1 AND c IN ($2, $3)");
        assert_eq!(
            sql.rendered_for_sqlite(),
            "SELECT a FROM t WHERE b = ? AND c IN (?, ?)"
        );
        assert_eq!(sql.args().len(), 3);
    }
}
