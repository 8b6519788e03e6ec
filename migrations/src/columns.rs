//! Adding and dropping columns, one per statement: SQLite alters one column at a time.

use sea_orm_migration::prelude::*;

/// Adds `column` to `table`.
pub(crate) async fn add(
    manager: &SchemaManager<'_>,
    table: impl Iden + 'static,
    column: ColumnDef,
) -> Result<(), DbErr> {
    manager
        .alter_table(Table::alter().table(table).add_column(column).to_owned())
        .await
}

/// Drops `column` from `table`.
pub(crate) async fn drop(
    manager: &SchemaManager<'_>,
    table: impl Iden + 'static,
    column: impl Iden + 'static,
) -> Result<(), DbErr> {
    manager
        .alter_table(Table::alter().table(table).drop_column(column).to_owned())
        .await
}
