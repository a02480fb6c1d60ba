//! Activities (seed 002): `activity/list|get|cancel`.
//!
//! An activity is the asynchronous request that started it, read from the
//! job table: its id is the request id, its state the job's, its progress,
//! log and description what the run reported (stored by the gateway, so
//! any node shows them). Actions declare themselves activities at
//! registration (`ActionSpec::activity`).

use actiongate_entity::{activity_tally, job};
use actiongate_kit::page::{self, Page};
use actiongate_kit::{load, Record};
use actiongate_service::{ActionResult, ApiError, CancelState, Ctx, Role, Status, Timestamp};
use sea_orm::sea_query::Expr;
use sea_orm::{
    ColumnTrait, ConnectionTrait, DbBackend, DbErr, DerivePartialModel, EntityTrait,
    FromQueryResult, PaginatorTrait, QueryFilter, QueryOrder, QuerySelect, QueryTrait,
};
use serde::Deserialize;
use serde_json::Value;

use crate::api::activity::{Activity, ActivityId, List, Outcome, State};
use job::{CANCELLED, FAILED, QUEUED, RUNNING, SUCCEEDED};

impl State {
    /// The job states this state covers.
    fn job_states(self) -> &'static [&'static str] {
        match self {
            State::Pending => &[QUEUED],
            State::InProgress => &[RUNNING],
            State::Complete => &[SUCCEEDED, FAILED],
            State::Cancelled => &[CANCELLED],
        }
    }

    fn of(job_state: &str) -> State {
        match job_state {
            QUEUED => State::Pending,
            RUNNING => State::InProgress,
            CANCELLED => State::Cancelled,
            _ => State::Complete,
        }
    }
}

/// The columns of a job an activity shows: a list reads these alone, not
/// the whole row.
#[derive(Debug, DerivePartialModel, FromQueryResult)]
#[sea_orm(entity = "job::Entity")]
pub struct ActivityColumns {
    pub request_id: String,
    pub activity_type: Option<String>,
    pub activity_project_id: Option<String>,
    pub queue_key: Option<String>,
    pub input: Vec<u8>,
    pub state: String,
    pub response: Option<String>,
    pub progress: Option<i32>,
    pub log: Option<String>,
    pub description: Option<String>,
    pub request_time: i64,
    pub started_at: Option<i64>,
    pub finished_at: Option<i64>,
}

impl From<job::Model> for Activity {
    fn from(row: job::Model) -> Self {
        ActivityColumns {
            request_id: row.request_id,
            activity_type: row.activity_type,
            activity_project_id: row.activity_project_id,
            queue_key: row.queue_key,
            input: row.input,
            state: row.state,
            response: row.response,
            progress: row.progress,
            log: row.log,
            description: row.description,
            request_time: row.request_time,
            started_at: row.started_at,
            finished_at: row.finished_at,
        }
        .into()
    }
}

impl From<ActivityColumns> for Activity {
    fn from(row: ActivityColumns) -> Self {
        let kind = row.activity_type.unwrap_or_default();
        let state = State::of(&row.state);
        let mut environment_ids: Vec<String> = row
            .queue_key
            .as_deref()
            .and_then(|key| key.strip_prefix("environment:"))
            .map(str::to_owned)
            .into_iter()
            .collect();
        // What a branch, clone or restore made: only a success made one.
        let made = (row.state == SUCCEEDED)
            .then(|| made_environment(row.response.as_deref()))
            .flatten();
        if let Some(made) = made {
            if !environment_ids.contains(&made) {
                environment_ids.push(made);
            }
        }
        let finished = row.finished_at.map(Timestamp::from_unix_ms);
        // Until its handler describes it (or if it failed before it could).
        let description = row
            .description
            .unwrap_or_else(|| match environment_ids.first() {
                Some(environment) => format!("{kind} of {environment}"),
                None => kind.clone(),
            });
        Activity {
            id: row.request_id,
            description,
            r#type: kind,
            project_id: row.activity_project_id.unwrap_or_default(),
            environment_ids,
            parameters: serde_json::from_slice(&row.input).unwrap_or(Value::Null),
            state,
            result: match row.state.as_str() {
                SUCCEEDED => Some(Outcome::Success),
                FAILED => Some(Outcome::Failure),
                _ => None,
            },
            completion_percent: if row.state == SUCCEEDED {
                100
            } else {
                row.progress.and_then(|p| u8::try_from(p).ok()).unwrap_or(0)
            },
            log: row
                .log
                .as_deref()
                .and_then(|log| serde_json::from_str(log).ok())
                .unwrap_or_default(),
            created_at: Timestamp::from_unix_ms(row.request_time),
            started_at: row.started_at.map(Timestamp::from_unix_ms),
            completed_at: finished.filter(|_| state == State::Complete),
            cancelled_at: finished.filter(|_| state == State::Cancelled),
        }
    }
}

/// The environment a successful activity's result names, when it is
/// another environment (a branch's or a clone's new one).
fn made_environment(response: Option<&str>) -> Option<String> {
    // Only `result.id` is decoded: a list reads one answer per row.
    #[derive(Deserialize)]
    struct Envelope<'a> {
        #[serde(borrow)]
        result: Option<Made<'a>>,
    }
    #[derive(Deserialize)]
    struct Made<'a> {
        #[serde(borrow)]
        id: Option<std::borrow::Cow<'a, str>>,
    }
    let envelope: Envelope = serde_json::from_str(response?).ok()?;
    let id = envelope.result?.id?;
    id.starts_with("env_").then(|| id.into_owned())
}

/// An activity's job row, as a record of its project.
pub struct ActivityRow(job::Model);

impl Record for ActivityRow {
    const KIND: &'static str = "activity";

    async fn find(db: &impl ConnectionTrait, id: &str) -> Result<Option<Self>, DbErr> {
        Ok(job::Entity::find_by_id(id)
            .filter(job::Column::ActivityProjectId.is_not_null())
            .one(db)
            .await?
            .map(ActivityRow))
    }

    fn project_id(&self) -> &str {
        self.0.activity_project_id.as_deref().unwrap_or_default()
    }
}

/// A project's activities, newest first.
pub async fn list(ctx: Ctx, input: List) -> ActionResult<Page<Activity>> {
    let (offset, limit) = page::bounds(input.offset, input.limit)?;
    // The scope was checked by the gateway: the project exists and the
    // caller sees it.
    let mut query = job::Entity::find()
        .filter(job::Column::ActivityProjectId.eq(&input.project_id))
        .order_by_desc(job::Column::RequestId);
    let queue_key = input
        .environment_id
        .as_ref()
        .map(|environment_id| format!("environment:{environment_id}"));
    if let Some(queue_key) = &queue_key {
        query = query.filter(job::Column::QueueKey.eq(queue_key));
    }
    // Beyond the project and environment, a filter the tallies do not keep.
    let filtered = input.r#type.is_some()
        || input.state.is_some()
        || input.result.is_some()
        || input.since.is_some();
    if let Some(types) = input.r#type {
        query = query.filter(job::Column::ActivityType.is_in(types));
    }
    if let Some(states) = input.state {
        let states = states.iter().flat_map(|s| s.job_states().iter().copied());
        query = query.filter(job::Column::State.is_in(states));
    }
    if let Some(result) = input.result {
        let state = match result {
            Outcome::Success => SUCCEEDED,
            Outcome::Failure => FAILED,
        };
        query = query.filter(job::Column::State.eq(state));
    }
    if let Some(since) = input.since {
        query = query.filter(job::Column::RequestTime.gte(since.unix_ms()));
    }
    let count = if filtered {
        query.clone().count(ctx.read()).await?
    } else {
        tally(&ctx, &input.project_id, queue_key.as_deref()).await?
    };
    let rows = query
        .offset(offset)
        .limit(limit)
        .into_partial_model::<ActivityColumns>()
        .all(ctx.read())
        .await?;
    Ok(Page {
        results: rows.into_iter().map(Activity::from).collect(),
        count,
        offset,
    })
}

/// How many activities a project holds, or one of its queues: read from
/// the tallies the job table's triggers keep, not counted row by row.
async fn tally(ctx: &Ctx, project_id: &str, queue_key: Option<&str>) -> Result<u64, DbErr> {
    let db = ctx.read();
    let backend = db.get_database_backend();
    // A sum of bigints is a decimal on PostgreSQL; SQLite's reader hands
    // back an integer of no declared type as 32 bits when it fits.
    let sum = match backend {
        DbBackend::Postgres => Expr::cust("CAST(COALESCE(SUM(count), 0) AS BIGINT)"),
        _ => Expr::cust("COALESCE(SUM(count), 0)"),
    };
    let mut query = activity_tally::Entity::find()
        .select_only()
        .column_as(sum, "total")
        .filter(activity_tally::Column::ProjectId.eq(project_id));
    if let Some(queue_key) = queue_key {
        query = query.filter(activity_tally::Column::QueueKey.eq(queue_key));
    }
    let Some(row) = db
        .query_one(backend.build(&QueryTrait::into_query(query)))
        .await?
    else {
        return Ok(0);
    };
    let sum = match row.try_get_by_index::<i64>(0) {
        Ok(sum) => sum,
        Err(_) => i64::from(row.try_get_by_index::<i32>(0)?),
    };
    Ok(sum.max(0) as u64)
}

pub async fn get(ctx: Ctx, input: ActivityId) -> ActionResult<Activity> {
    let row = load::<ActivityRow>(&ctx, ctx.read(), &input.id, Role::Viewer)
        .await?
        .record;
    Ok(row.0.into())
}

/// Cancels a pending activity at once, a running one at its next
/// checkpoint; a finished one is `Conflict`.
pub async fn cancel(ctx: Ctx, input: ActivityId) -> ActionResult<Activity> {
    let row = load::<ActivityRow>(&ctx, ctx.read(), &input.id, Role::Member)
        .await?
        .record;
    let finished = |state: &str| {
        ApiError::new(
            Status::Conflict,
            format!(
                "Activity {} has already finished ({state}); it can no longer be cancelled",
                input.id
            ),
        )
        .at("/id", "AlreadyFinished")
    };
    if row.0.response.is_some() {
        return Err(finished(&row.0.state).into());
    }
    match ctx.requests().cancel(&input.id).await? {
        CancelState::Cancelled | CancelState::Cancelling => {}
        CancelState::Finished(state) => return Err(finished(&state).into()),
        CancelState::Unknown => return Err(ApiError::not_found("activity", &input.id).into()),
    }
    // Files the cancel in the audit trail, like any change.
    let txn = ctx.begin_write().await?;
    txn.commit_for(&input.id).await?;
    let now = job::Entity::find_by_id(input.id.as_str())
        .one(ctx.read())
        .await?
        .ok_or_else(|| ApiError::not_found("activity", &input.id))?;
    Ok(now.into())
}
