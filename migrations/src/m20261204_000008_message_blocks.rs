//! Messages carry their content as typed blocks beside the agent's raw frame (`content`), with
//! the model, the turn's usage, the structured result and the sub-agent they belong to; tool
//! calls keep the agent's structured result beside the text the model read, and their
//! sub-agent. Executions keep their structured result; a forked session, where it came from. Rows written before have no blocks
//! (their frame is still in `content`).

use sea_orm_migration::prelude::*;

use crate::columns::{add, drop};
use sea_orm_migration::schema::{json_binary_null, string_null, uuid_null};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Messages {
    Table,
    Blocks,
    Model,
    Usage,
    ParentToolUseId,
    StructuredOutput,
    AgentMessageId,
}

#[derive(DeriveIden)]
enum TaskExecutions {
    Table,
    StructuredOutput,
}

#[derive(DeriveIden)]
enum Sessions {
    Table,
    ForkedFromSession,
    ForkedConversation,
    ForkedAtMessage,
}

#[derive(DeriveIden)]
enum ToolCalls {
    Table,
    ToolResponse,
    ParentToolUseId,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        add(manager, Messages::Table, json_binary_null(Messages::Blocks)).await?;
        add(manager, Messages::Table, string_null(Messages::Model)).await?;
        add(manager, Messages::Table, json_binary_null(Messages::Usage)).await?;
        add(
            manager,
            Messages::Table,
            string_null(Messages::ParentToolUseId),
        )
        .await?;
        add(
            manager,
            Messages::Table,
            json_binary_null(Messages::StructuredOutput),
        )
        .await?;
        add(
            manager,
            ToolCalls::Table,
            json_binary_null(ToolCalls::ToolResponse),
        )
        .await?;
        add(
            manager,
            ToolCalls::Table,
            string_null(ToolCalls::ParentToolUseId),
        )
        .await?;
        add(
            manager,
            TaskExecutions::Table,
            json_binary_null(TaskExecutions::StructuredOutput),
        )
        .await?;
        add(
            manager,
            Sessions::Table,
            uuid_null(Sessions::ForkedFromSession),
        )
        .await?;
        add(
            manager,
            Sessions::Table,
            string_null(Sessions::ForkedConversation),
        )
        .await?;
        add(
            manager,
            Sessions::Table,
            string_null(Sessions::ForkedAtMessage),
        )
        .await?;
        add(
            manager,
            Messages::Table,
            string_null(Messages::AgentMessageId),
        )
        .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        drop(manager, Messages::Table, Messages::AgentMessageId).await?;
        drop(manager, Sessions::Table, Sessions::ForkedAtMessage).await?;
        drop(manager, Sessions::Table, Sessions::ForkedConversation).await?;
        drop(manager, Sessions::Table, Sessions::ForkedFromSession).await?;
        drop(
            manager,
            TaskExecutions::Table,
            TaskExecutions::StructuredOutput,
        )
        .await?;
        drop(manager, ToolCalls::Table, ToolCalls::ParentToolUseId).await?;
        drop(manager, ToolCalls::Table, ToolCalls::ToolResponse).await?;
        drop(manager, Messages::Table, Messages::StructuredOutput).await?;
        drop(manager, Messages::Table, Messages::ParentToolUseId).await?;
        drop(manager, Messages::Table, Messages::Usage).await?;
        drop(manager, Messages::Table, Messages::Model).await?;
        drop(manager, Messages::Table, Messages::Blocks).await
    }
}
