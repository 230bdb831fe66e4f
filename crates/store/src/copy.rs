//! PostgreSQL's bulk path: new rows go in with `COPY … FROM STDIN`, as `psql \copy` loads a table.

use std::fmt::Write;

use sqlx::postgres::PgConnection;

use crate::Result;
use crate::sql::Arg;

/// Appends one field in COPY's text format: `\N` for NULL, bytea as `\\x…`, and the characters
/// that end fields or rows escaped.
fn field(out: &mut String, arg: &Arg) {
    fn text(out: &mut String, s: &str) {
        if !s.contains(['\\', '\t', '\n', '\r']) {
            out.push_str(s);
            return;
        }
        for c in s.chars() {
            match c {
                '\\' => out.push_str("\\\\"),
                '\t' => out.push_str("\\t"),
                '\n' => out.push_str("\\n"),
                '\r' => out.push_str("\\r"),
                c => out.push(c),
            }
        }
    }
    fn bytes(out: &mut String, b: &[u8]) {
        const HEX: &[u8; 16] = b"0123456789abcdef";
        out.push_str("\\\\x");
        out.reserve(b.len() * 2);
        for byte in b {
            out.push(HEX[usize::from(byte >> 4)] as char);
            out.push(HEX[usize::from(byte & 0xf)] as char);
        }
    }
    match arg {
        Arg::Text(s) => text(out, s),
        Arg::Int(i) => {
            let _ = write!(out, "{i}");
        }
        Arg::Bytes(b) => bytes(out, b),
        Arg::OptText(Some(s)) => text(out, s),
        Arg::OptBytes(Some(b)) => bytes(out, b),
        Arg::OptText(None) | Arg::OptBytes(None) => out.push_str("\\N"),
    }
}

/// Appends `rows` (values in a table's column order) to `out` in COPY's text format.
pub(crate) fn push_rows<'a, R>(out: &mut String, rows: impl Iterator<Item = R>)
where
    R: IntoIterator<Item = &'a Arg>,
{
    for row in rows {
        for (i, arg) in row.into_iter().enumerate() {
            if i > 0 {
                out.push('\t');
            }
            field(out, arg);
        }
        out.push('\n');
    }
}

/// COPYs `data` (rows in COPY's text format, values in `columns` order) into `table`.
pub(crate) async fn copy_text(
    conn: &mut PgConnection,
    table: &str,
    columns: &str,
    data: String,
) -> Result<()> {
    if data.is_empty() {
        return Ok(());
    }
    let mut copy = conn
        .copy_in_raw(&format!("COPY {table} ({columns}) FROM STDIN"))
        .await?;
    copy.send(data.into_bytes()).await?;
    copy.finish().await?;
    Ok(())
}

/// COPYs `rows` (values in `columns` order) into `table` in one round trip.
pub(crate) async fn copy_rows<'a, R>(
    conn: &mut PgConnection,
    table: &str,
    columns: &str,
    rows: impl Iterator<Item = R>,
) -> Result<()>
where
    R: IntoIterator<Item = &'a Arg>,
{
    let mut data = String::new();
    push_rows(&mut data, rows);
    copy_text(conn, table, columns, data).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_copy_text_format() {
        let mut out = String::new();
        for arg in [
            Arg::Text("a\tb\\c\nd".into()),
            Arg::OptText(None),
            Arg::Bytes(vec![0, 255]),
            Arg::Int(-3),
        ] {
            field(&mut out, &arg);
            out.push('|');
        }
        assert_eq!(out, "a\\tb\\\\c\\nd|\\N|\\\\x00ff|-3|");
    }
}
