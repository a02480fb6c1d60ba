//! How many activities each project holds, by queue key.
//!
//! `activity/list` answers an exact `count`. Counting an environment's
//! activities from their index steps through every one of them (10,000
//! in a busy environment: most of the list's cost), so the count is kept
//! beside them instead: one `activity_tallies` row per project and queue
//! key (`''` for an activity with none), kept by triggers on `jobs` in the
//! transaction of every insert, delete or move. Whatever writes the job
//! table (the job writer, a keyed accept, the retention sweep, an
//! operator's `DELETE`) keeps the tally exact. A row that reaches zero is
//! removed.
//!
//! On PostgreSQL two transactions touching the same two tallies in
//! opposite orders may deadlock; the job writer repeats a batch aborted
//! so, and the sweep its next round.

use sea_orm_migration::prelude::*;
use sea_orm_migration::sea_orm::{ConnectionTrait, DbBackend};

#[derive(DeriveMigrationName)]
pub struct Migration;

const TABLE: &str = "CREATE TABLE activity_tallies (\
     project_id VARCHAR NOT NULL, \
     queue_key VARCHAR NOT NULL, \
     count BIGINT NOT NULL, \
     PRIMARY KEY (project_id, queue_key))";

const BACKFILL: &str = "INSERT INTO activity_tallies (project_id, queue_key, count) \
     SELECT activity_project_id, COALESCE(queue_key, ''), COUNT(*) FROM jobs \
     WHERE activity_project_id IS NOT NULL \
     GROUP BY activity_project_id, COALESCE(queue_key, '')";

const SQLITE: [&str; 3] = [
    "CREATE TRIGGER jobs_tally_insert AFTER INSERT ON jobs \
     WHEN NEW.activity_project_id IS NOT NULL BEGIN \
       INSERT INTO activity_tallies (project_id, queue_key, count) \
       VALUES (NEW.activity_project_id, COALESCE(NEW.queue_key, ''), 1) \
       ON CONFLICT (project_id, queue_key) DO UPDATE SET count = count + 1; \
     END",
    "CREATE TRIGGER jobs_tally_delete AFTER DELETE ON jobs \
     WHEN OLD.activity_project_id IS NOT NULL BEGIN \
       UPDATE activity_tallies SET count = count - 1 \
       WHERE project_id = OLD.activity_project_id AND queue_key = COALESCE(OLD.queue_key, ''); \
       DELETE FROM activity_tallies \
       WHERE project_id = OLD.activity_project_id AND queue_key = COALESCE(OLD.queue_key, '') \
       AND count <= 0; \
     END",
    "CREATE TRIGGER jobs_tally_move AFTER UPDATE OF activity_project_id, queue_key ON jobs BEGIN \
       UPDATE activity_tallies SET count = count - 1 \
       WHERE OLD.activity_project_id IS NOT NULL \
       AND project_id = OLD.activity_project_id AND queue_key = COALESCE(OLD.queue_key, ''); \
       DELETE FROM activity_tallies \
       WHERE OLD.activity_project_id IS NOT NULL \
       AND project_id = OLD.activity_project_id AND queue_key = COALESCE(OLD.queue_key, '') \
       AND count <= 0; \
       INSERT INTO activity_tallies (project_id, queue_key, count) \
       SELECT NEW.activity_project_id, COALESCE(NEW.queue_key, ''), 1 \
       WHERE NEW.activity_project_id IS NOT NULL \
       ON CONFLICT (project_id, queue_key) DO UPDATE SET count = count + 1; \
     END",
];

const POSTGRES: [&str; 2] = [
    "CREATE FUNCTION jobs_tally() RETURNS trigger LANGUAGE plpgsql AS $$ \
     BEGIN \
       IF TG_OP IN ('DELETE', 'UPDATE') AND OLD.activity_project_id IS NOT NULL THEN \
         UPDATE activity_tallies SET count = count - 1 \
         WHERE project_id = OLD.activity_project_id AND queue_key = COALESCE(OLD.queue_key, ''); \
         DELETE FROM activity_tallies \
         WHERE project_id = OLD.activity_project_id AND queue_key = COALESCE(OLD.queue_key, '') \
         AND count <= 0; \
       END IF; \
       IF TG_OP IN ('INSERT', 'UPDATE') AND NEW.activity_project_id IS NOT NULL THEN \
         INSERT INTO activity_tallies (project_id, queue_key, count) \
         VALUES (NEW.activity_project_id, COALESCE(NEW.queue_key, ''), 1) \
         ON CONFLICT (project_id, queue_key) \
         DO UPDATE SET count = activity_tallies.count + 1; \
       END IF; \
       RETURN NULL; \
     END $$",
    "CREATE TRIGGER jobs_tally \
     AFTER INSERT OR DELETE OR UPDATE OF activity_project_id, queue_key ON jobs \
     FOR EACH ROW EXECUTE FUNCTION jobs_tally()",
];

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let db = manager.get_connection();
        db.execute_unprepared(TABLE).await?;
        db.execute_unprepared(BACKFILL).await?;
        let triggers: &[&str] = match db.get_database_backend() {
            DbBackend::Postgres => &POSTGRES,
            _ => &SQLITE,
        };
        for statement in triggers {
            db.execute_unprepared(statement).await?;
        }
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let db = manager.get_connection();
        let drops: &[&str] = match db.get_database_backend() {
            DbBackend::Postgres => &[
                "DROP TRIGGER jobs_tally ON jobs",
                "DROP FUNCTION jobs_tally()",
            ],
            _ => &[
                "DROP TRIGGER jobs_tally_insert",
                "DROP TRIGGER jobs_tally_delete",
                "DROP TRIGGER jobs_tally_move",
            ],
        };
        for statement in drops {
            db.execute_unprepared(statement).await?;
        }
        db.execute_unprepared("DROP TABLE activity_tallies").await?;
        Ok(())
    }
}
