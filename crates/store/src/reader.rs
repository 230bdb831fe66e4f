//! Reads that run on the calling thread, for SQLite.
//!
//! sqlx's SQLite driver runs each connection on a thread of its own and hands every statement,
//! every result row and every return of a connection to its pool (a ping) across threads. For
//! the page residents load most, the case page, those hand-offs cost more than the query: a read
//! of a few indexed rows from SQLite's page cache takes tens of microseconds, no longer than
//! rendering the page, so it runs where it is asked, like the rendering. Connections are opened
//! read-write but `query_only` (a read-only open cannot always use a WAL database's shared
//! memory), kept in a small pool, and dropped with the store.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex, PoisonError};

use rusqlite::{Connection, OpenFlags, Row};

use crate::Result;
use crate::sql::{ColumnValue, Columns, Sql};

/// Idle connections kept; more callers at once open more, closed when they are done.
const KEEP_IDLE: usize = 8;

/// Statements whose column names a connection remembers.
const KEEP_STATEMENTS: usize = 64;

pub(crate) struct Reader {
    path: PathBuf,
    idle: Mutex<Vec<ReadConnection>>,
}

/// A connection with the column names of the statements it has run: rusqlite looks a column
/// up by name through SQLite on every call, and a case row is read by some twenty names.
struct ReadConnection {
    conn: Connection,
    columns: HashMap<String, Arc<[String]>>,
}

/// A row whose columns are found by name without asking SQLite.
pub(crate) struct NamedRow<'a> {
    row: &'a Row<'a>,
    names: &'a [String],
}

impl Columns for NamedRow<'_> {
    fn column<T: ColumnValue>(&self, name: &str) -> Result<T> {
        let index = self
            .names
            .iter()
            .position(|n| n == name)
            .ok_or_else(|| rusqlite::Error::InvalidColumnName(name.to_owned()))?;
        Ok(self.row.get(index)?)
    }
}

impl Reader {
    /// A reader for the database file of `url` (`sqlite://PATH[?…]`); none for an in-memory
    /// database, which another connection cannot see.
    pub fn for_url(url: &str) -> Option<Reader> {
        crate::sqlite_file(url).map(|path| Reader {
            path,
            idle: Mutex::new(Vec::new()),
        })
    }

    fn open(&self) -> Result<ReadConnection> {
        let conn = Connection::open_with_flags(
            &self.path,
            OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX,
        )?;
        // A reader never waits on a writer in WAL mode; the timeout covers a checkpoint's reset.
        conn.execute_batch(
            "PRAGMA query_only = ON; PRAGMA busy_timeout = 2000; PRAGMA cache_size = -8192;",
        )?;
        Ok(ReadConnection {
            conn,
            columns: HashMap::new(),
        })
    }

    /// The first row of `sql`, mapped by `map`.
    pub fn first_row<T>(
        &self,
        sql: &Sql,
        map: impl FnOnce(&NamedRow<'_>) -> Result<T>,
    ) -> Result<Option<T>> {
        let mut read = match self
            .idle
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .pop()
        {
            Some(read) => read,
            None => self.open()?,
        };
        let result = (|| {
            let text = sql.rendered_for_sqlite();
            let mut statement = read.conn.prepare_cached(&text)?;
            let names = match read.columns.get(&text) {
                Some(names) => Arc::clone(names),
                None => {
                    let names: Arc<[String]> = statement
                        .column_names()
                        .into_iter()
                        .map(String::from)
                        .collect();
                    // Statement texts vary only with the scope's shape; keep the map small anyway.
                    if read.columns.len() >= KEEP_STATEMENTS {
                        read.columns.clear();
                    }
                    read.columns.insert(text, Arc::clone(&names));
                    names
                }
            };
            let mut rows = statement.query(rusqlite::params_from_iter(sql.args()))?;
            rows.next()?
                .map(|row| map(&NamedRow { row, names: &names }))
                .transpose()
        })();
        let mut idle = self.idle.lock().unwrap_or_else(PoisonError::into_inner);
        if idle.len() < KEEP_IDLE {
            idle.push(read);
        }
        result
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_reader_is_for_database_files_only() {
        let path = |url| Reader::for_url(url).map(|r| r.path);
        assert_eq!(path("sqlite:///var/z.db"), Some(PathBuf::from("/var/z.db")));
        assert_eq!(
            path("sqlite://data/z.db?mode=rwc"),
            Some(PathBuf::from("data/z.db"))
        );
        assert_eq!(path("sqlite::memory:"), None);
        assert_eq!(path("postgres://h/db"), None);
    }
}
