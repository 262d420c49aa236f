//! Column access shared by both backends, so one decoder per record type serves SQLite and
//! PostgreSQL rows alike (both schemas use TEXT and 64-bit integers for the same columns).

use sqlx::Row as _;

/// Typed column access by name.
pub(crate) trait Cols {
    /// A non-null text column.
    fn text(&self, column: &str) -> Result<String, sqlx::Error>;
    /// A nullable text column.
    fn opt_text(&self, column: &str) -> Result<Option<String>, sqlx::Error>;
    /// A non-null integer column.
    fn int(&self, column: &str) -> Result<i64, sqlx::Error>;
    /// A nullable integer column.
    fn opt_int(&self, column: &str) -> Result<Option<i64>, sqlx::Error>;
}

macro_rules! cols_for {
    ($row:ty) => {
        impl Cols for $row {
            fn text(&self, column: &str) -> Result<String, sqlx::Error> {
                self.try_get(column)
            }
            fn opt_text(&self, column: &str) -> Result<Option<String>, sqlx::Error> {
                self.try_get(column)
            }
            fn int(&self, column: &str) -> Result<i64, sqlx::Error> {
                self.try_get(column)
            }
            fn opt_int(&self, column: &str) -> Result<Option<i64>, sqlx::Error> {
                self.try_get(column)
            }
        }
    };
}

cols_for!(sqlx::sqlite::SqliteRow);
cols_for!(sqlx::postgres::PgRow);

/// A non-negative count column.
pub(crate) fn unsigned(r: &impl Cols, column: &str) -> Result<u64, sqlx::Error> {
    Ok(u64::try_from(r.int(column)?).unwrap_or(0))
}

/// A decode failure of one column.
pub(crate) fn bad_column(
    column: &str,
    e: impl std::error::Error + Send + Sync + 'static,
) -> sqlx::Error {
    sqlx::Error::ColumnDecode {
        index: column.to_owned(),
        source: Box::new(e),
    }
}

/// A length or position as a database integer.
pub(crate) fn count(n: usize) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}
