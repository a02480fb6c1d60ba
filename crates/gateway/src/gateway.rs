//! The gateway as a whole: its parts, how it starts, and how it stops.

use std::net::SocketAddr;
use std::sync::Arc;

use actiongate_service::{Ctx, Db, Principal, Service};
use actiongate_wire::{ApiError, RequestId, Status, Timestamp};
use anyhow::Context;
use tokio::net::TcpListener;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

use crate::bootstrap::{self, Bootstrapped};
use crate::jobs::Jobs;
use crate::pipeline::dispatch;
use crate::routes::RouteTable;
use crate::tokens::TokenVerifier;
use crate::{db, server, Config, Outcome};

/// Everything a request needs, shared by all of them.
pub struct Gateway {
    config: Config,
    db: Db,
    routes: RouteTable,
    tokens: Arc<TokenVerifier>,
    jobs: Arc<Jobs>,
    local_addr: SocketAddr,
}

impl Gateway {
    pub fn config(&self) -> &Config {
        &self.config
    }

    pub fn db(&self) -> &Db {
        &self.db
    }

    pub fn routes(&self) -> &RouteTable {
        &self.routes
    }

    pub fn tokens(&self) -> &TokenVerifier {
        &self.tokens
    }

    pub fn jobs(&self) -> &Arc<Jobs> {
        &self.jobs
    }

    pub fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }

    /// Connects to the database, migrates it, bootstraps it if empty, binds
    /// the listener and starts serving `services`.
    pub async fn start(config: Config, services: Vec<Service>) -> anyhow::Result<RunningGateway> {
        let db = db::connect(&config).await?;
        db::migrate(&db.write).await?;
        let bootstrapped = bootstrap::first_start(&db.write, &config.data_dir).await?;
        let routes = RouteTable::build(services, &config)?;
        let listener = TcpListener::bind(config.listen)
            .await
            .with_context(|| format!("binding {}", config.listen))?;
        let local_addr = listener.local_addr()?;
        let node_id = actiongate_wire::new_id("node");
        let tokens = TokenVerifier::new(db.read.clone());
        let jobs = Jobs::new(db.clone(), node_id, config.result_ttl);
        let background = vec![
            tokens.spawn_watcher(config.token_refresh),
            jobs.spawn_sweeper(config.result_sweep_interval),
        ];
        let gateway = Arc::new(Gateway {
            config,
            db,
            routes,
            tokens,
            jobs,
            local_addr,
        });
        gateway.resume_unfinished_jobs().await?;
        let (stop, stopped) = oneshot::channel::<()>();
        let server = tokio::spawn(server::serve(listener, gateway.clone(), async {
            let _ = stopped.await;
        }));
        tracing::info!(addr = %local_addr, "actiongate listening");
        Ok(RunningGateway {
            addr: local_addr,
            bootstrapped,
            stop: Some(stop),
            server,
            background,
        })
    }

    /// Runs again every job a previous process left unfinished.
    async fn resume_unfinished_jobs(self: &Arc<Self>) -> anyhow::Result<()> {
        let unfinished = self.jobs.claim_unfinished().await?;
        if !unfinished.is_empty() {
            tracing::info!(count = unfinished.len(), "resuming unfinished jobs");
        }
        for job in unfinished {
            let Ok(request_id) = RequestId::parse(&job.request_id) else {
                tracing::error!(
                    id = job.request_id,
                    "job with an invalid request id skipped"
                );
                continue;
            };
            let request_time = Timestamp::from_unix_ms(job.request_time);
            let principal = Arc::new(Principal {
                token_id: job.token_id,
                user_id: job.user_id,
                org_id: job.org_id,
            });
            let key = format!("{}/{}", job.version, job.action);
            let found = self
                .routes
                .service_named(&job.service)
                .and_then(|service| service.action(&key).map(|action| (service, action)));
            let work = match found {
                None => {
                    let err = ApiError::new(
                        Status::ServiceNotAvailable,
                        format!(
                            "The action {}/{key} is no longer served by this gateway",
                            job.service
                        ),
                    );
                    Box::pin(async move { Outcome::Failure(err) }) as _
                }
                Some((service, action)) => match action.handler.decode(&job.input) {
                    Ok(input) => {
                        let ctx = Ctx::new(
                            request_id,
                            principal,
                            self.db.clone(),
                            service.state.clone(),
                        );
                        dispatch::run(action, ctx, input)
                    }
                    Err(err) => Box::pin(async move { Outcome::Failure(err) }) as _,
                },
            };
            self.jobs
                .complete_in_background(request_id, request_time, work);
        }
        Ok(())
    }
}

/// A started gateway. Dropping it does not stop the server; call
/// [`RunningGateway::shutdown`].
pub struct RunningGateway {
    pub addr: SocketAddr,
    /// Set on the first start of an empty database.
    pub bootstrapped: Option<Bootstrapped>,
    stop: Option<oneshot::Sender<()>>,
    server: JoinHandle<()>,
    background: Vec<JoinHandle<()>>,
}

impl RunningGateway {
    /// Stops accepting, lets open requests finish, and returns.
    pub async fn shutdown(mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        let _ = (&mut self.server).await;
        for task in &self.background {
            task.abort();
        }
    }
}
