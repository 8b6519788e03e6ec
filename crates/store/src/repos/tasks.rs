use async_trait::async_trait;
use overseer_domain::{
    AgentOptions, CronSchedule, MissedTicks, PromptTemplate, Schedule, Task, TaskId, TaskName,
    TaskTemplate, TimeZoneName, UserId,
};
use overseer_ports::repositories::TaskRepository;
use overseer_ports::{Page, PageRequest, RepoError, Scope};
use sea_orm::{
    ActiveValue::Set, ColumnTrait, DatabaseConnection, EntityTrait, IntoActiveModel, QueryFilter,
    QueryOrder,
};

use super::{cas_miss, scoped};
use crate::convert::{corrupt, fetch_all, fetch_page, parse, unavailable, write_err};
use crate::entities::tasks::{ActiveModel, Column, Entity, Model};

const ENTITY: &str = "task";

#[derive(Debug)]
pub(crate) struct SqlTasks(pub(crate) DatabaseConnection);

fn to_model(task: &Task) -> Result<Model, RepoError> {
    Ok(Model {
        id: task.id.as_uuid(),
        user_id: task.user_id.as_uuid(),
        name: task.name.to_string(),
        description: task.description.clone(),
        prompt_template: task.template.template().source().to_owned(),
        variables: serde_json::to_value(task.template.variables())
            .map_err(|e| corrupt(ENTITY)(&e))?,
        sdk_options: task.options.to_json(),
        is_active: task.is_active,
        is_deleted: task.is_deleted,
        generate_report: task.generate_report,
        report_format: task.report_format.as_str().to_owned(),
        schedule: task.schedule.as_ref().map(|s| s.cron.to_string()),
        schedule_timezone: task.schedule.as_ref().map(|s| s.time_zone.to_string()),
        schedule_missed_ticks: task.schedule.as_ref().map(|s| s.missed.as_str().to_owned()),
        version: i32::try_from(task.version).map_err(|e| corrupt(ENTITY)(&e))?,
        created_at: task.created_at,
        updated_at: task.updated_at,
    })
}

/// A schedule from its three columns; rows written before time zones were stored read as UTC,
/// skipping missed ticks.
fn schedule_of(
    cron: Option<String>,
    time_zone: Option<String>,
    missed: Option<String>,
) -> Result<Option<Schedule>, RepoError> {
    let bad = corrupt(ENTITY);
    let Some(cron) = cron else { return Ok(None) };
    Ok(Some(Schedule {
        cron: CronSchedule::new(cron).map_err(|e| bad(&e))?,
        time_zone: time_zone
            .map(TimeZoneName::new)
            .transpose()
            .map_err(|e| bad(&e))?
            .unwrap_or_else(TimeZoneName::utc),
        missed: missed
            .map(|m| parse(ENTITY, &m))
            .transpose()?
            .unwrap_or(MissedTicks::Skip),
    }))
}

fn to_domain(row: Model) -> Result<Task, RepoError> {
    let bad = corrupt(ENTITY);
    let variables = serde_json::from_value(row.variables).map_err(|e| bad(&e))?;
    let template = PromptTemplate::parse(row.prompt_template)
        .and_then(|t| TaskTemplate::new(t, variables))
        .map_err(|e| bad(&e))?;
    Ok(Task {
        id: TaskId::from_uuid(row.id),
        user_id: UserId::from_uuid(row.user_id),
        name: TaskName::new(row.name).map_err(|e| bad(&e))?,
        description: row.description,
        template,
        options: AgentOptions::from_json(row.sdk_options).map_err(|e| bad(&e))?,
        is_active: row.is_active,
        is_deleted: row.is_deleted,
        generate_report: row.generate_report,
        report_format: parse(ENTITY, &row.report_format)?,
        schedule: schedule_of(
            row.schedule,
            row.schedule_timezone,
            row.schedule_missed_ticks,
        )?,
        version: u32::try_from(row.version).map_err(|e| bad(&e))?,
        created_at: row.created_at,
        updated_at: row.updated_at,
    })
}

#[async_trait]
impl TaskRepository for SqlTasks {
    async fn insert(&self, task: &Task) -> Result<(), RepoError> {
        Entity::insert(to_model(task)?.into_active_model())
            .exec_without_returning(&self.0)
            .await
            .map_err(write_err(ENTITY, "user"))?;
        Ok(())
    }

    async fn get(&self, id: TaskId, scope: Scope) -> Result<Task, RepoError> {
        let select = Entity::find_by_id(id.as_uuid()).filter(Column::IsDeleted.eq(false));
        scoped(select, Column::UserId, scope)
            .one(&self.0)
            .await
            .map_err(unavailable)?
            .ok_or(RepoError::NotFound { entity: ENTITY })
            .and_then(to_domain)
    }

    async fn list(&self, scope: Scope, page: PageRequest) -> Result<Page<Task>, RepoError> {
        let select = scoped(
            Entity::find().filter(Column::IsDeleted.eq(false)),
            Column::UserId,
            scope,
        )
        .order_by_desc(Column::CreatedAt)
        .order_by_desc(Column::Id);
        fetch_page(&self.0, select, page, to_domain).await
    }

    async fn update(&self, task: &Task, expected_version: u32) -> Result<(), RepoError> {
        let row = to_model(task)?;
        let expected = i32::try_from(expected_version).map_err(|e| corrupt(ENTITY)(&e))?;
        let changes = ActiveModel {
            name: Set(row.name),
            description: Set(row.description),
            prompt_template: Set(row.prompt_template),
            variables: Set(row.variables),
            sdk_options: Set(row.sdk_options),
            is_active: Set(row.is_active),
            generate_report: Set(row.generate_report),
            report_format: Set(row.report_format),
            schedule: Set(row.schedule),
            schedule_timezone: Set(row.schedule_timezone),
            schedule_missed_ticks: Set(row.schedule_missed_ticks),
            version: Set(row.version),
            updated_at: Set(row.updated_at),
            ..Default::default()
        };
        let result = Entity::update_many()
            .set(changes)
            .filter(Column::Id.eq(row.id))
            .filter(Column::IsDeleted.eq(false))
            .filter(Column::Version.eq(expected))
            .exec(&self.0)
            .await
            .map_err(unavailable)?;
        if result.rows_affected == 0 {
            // A deleted task reads as missing, whatever its version.
            return Err(match self.get(task.id, Scope::Admin).await {
                Ok(_) => {
                    cas_miss::<Entity>(
                        &self.0,
                        row.id,
                        ENTITY,
                        &format!("version {expected_version}"),
                    )
                    .await
                }
                Err(err) => err,
            });
        }
        Ok(())
    }

    async fn list_scheduled(&self) -> Result<Vec<Task>, RepoError> {
        let select = Entity::find()
            .filter(Column::IsDeleted.eq(false))
            .filter(Column::IsActive.eq(true))
            .filter(Column::Schedule.is_not_null())
            .order_by_asc(Column::CreatedAt);
        fetch_all(&self.0, select, to_domain).await
    }

    async fn soft_delete(&self, id: TaskId, scope: Scope) -> Result<(), RepoError> {
        let update = Entity::update_many()
            .set(ActiveModel {
                is_deleted: Set(true),
                ..Default::default()
            })
            .filter(Column::Id.eq(id.as_uuid()))
            .filter(Column::IsDeleted.eq(false));
        let update = match scope {
            Scope::Owner(user) => update.filter(Column::UserId.eq(user.as_uuid())),
            Scope::Admin => update,
        };
        let result = update.exec(&self.0).await.map_err(unavailable)?;
        if result.rows_affected == 0 {
            return Err(RepoError::NotFound { entity: ENTITY });
        }
        Ok(())
    }
}
