//! The gateway as a whole: its parts, how it starts, and how it stops.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use std::time::Duration;

use actiongate_service::{Db, Service};
use anyhow::Context;
use tokio::net::TcpListener;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

use crate::auth_epoch::AuthEpoch;
use crate::bootstrap::{self, Bootstrapped};
use crate::jobs::{self, Jobs};
use crate::metrics::Metrics;
use crate::openapi::Documents;
use crate::rate_limits::RateLimits;
use crate::routes::{RouteTable, RESERVED};
use crate::sqlite::{SqliteReader, WriteConnection};
use crate::tokens::TokenVerifier;
use crate::upstream::identity::Identity;
use crate::upstream::table::UpstreamTable;
use crate::upstream::{self, Upstreams};
use crate::{db, server, Config};
use crate::{secrets, sweeper};

/// Everything a request needs, shared by all of them.
pub struct Gateway {
    config: Config,
    db: Db,
    routes: Arc<RouteTable>,
    tokens: Arc<TokenVerifier>,
    rate_limits: Arc<RateLimits>,
    jobs: Arc<Jobs>,
    upstreams: Arc<Upstreams>,
    documents: Documents,
    metrics: Arc<Metrics>,
    /// On SQLite, the reader behind `db.read`.
    sqlite_reader: Option<SqliteReader>,
    /// On SQLite, the connection of the job writer and handlers' writes.
    sqlite_write: Option<Arc<WriteConnection>>,
    /// Every migration this build has, in order.
    migrations: Vec<String>,
    /// Set from the moment shutdown begins.
    draining: Arc<AtomicBool>,
    local_addr: SocketAddr,
}

impl Gateway {
    pub fn config(&self) -> &Config {
        &self.config
    }

    pub fn db(&self) -> &Db {
        &self.db
    }

    /// On SQLite, the reader behind `db().read`, with its counts of reads
    /// that lacked an index.
    pub fn sqlite_reader(&self) -> Option<&SqliteReader> {
        self.sqlite_reader.as_ref()
    }

    /// On SQLite, the connection the job writer and handlers write on,
    /// with its count of commits.
    pub fn sqlite_write(&self) -> Option<&WriteConnection> {
        self.sqlite_write.as_deref()
    }

    pub fn routes(&self) -> &RouteTable {
        &self.routes
    }

    pub fn tokens(&self) -> &TokenVerifier {
        &self.tokens
    }

    pub fn rate_limits(&self) -> &RateLimits {
        &self.rate_limits
    }

    /// Every migration this build has, in order.
    pub fn migrations(&self) -> &[String] {
        &self.migrations
    }

    /// Whether shutdown has begun (`/readyz` then answers 503).
    pub fn draining(&self) -> bool {
        self.draining.load(Ordering::Relaxed)
    }

    pub fn metrics(&self) -> &Metrics {
        &self.metrics
    }

    /// The OpenAPI documents of the route table.
    pub fn documents(&self) -> &Documents {
        &self.documents
    }

    pub fn jobs(&self) -> &Arc<Jobs> {
        &self.jobs
    }

    pub fn upstreams(&self) -> &Arc<Upstreams> {
        &self.upstreams
    }

    /// Checks a configuration as a start would, short of opening the
    /// database and binding: settings that go together, the services'
    /// route table, the upstreams and the rate limits.
    pub fn check_config(config: &Config, services: Vec<Service>) -> anyhow::Result<()> {
        config.check()?;
        secrets::load(config, false)?;
        let metrics = Metrics::new(false);
        let routes = RouteTable::build(services, config, &metrics)?;
        upstream::config::check(&config.upstreams, &routes.all_names(), &RESERVED)?;
        let upstreams =
            UpstreamTable::build(&config.upstreams, config.response_threshold, &metrics)
                .map_err(anyhow::Error::msg)?;
        RateLimits::new(&config.rate_limits, &routes, &upstreams)?;
        Ok(())
    }

    pub fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }

    /// Connects to the database, migrates it, bootstraps it if empty, binds
    /// the listener and starts serving `services`.
    pub async fn start(
        config: Config,
        mut services: Vec<Service>,
    ) -> anyhow::Result<RunningGateway> {
        config.check()?;
        let tls = server::tls_acceptor(&config.tls)?;
        let (db, sqlite) = db::open_database(&config).await?;
        let (sqlite_reader, sqlite_write) = sqlite.map(|s| (s.reader, s.write)).unzip();
        let migrations = db::migrate(&db.write, &mut services).await?;
        let bootstrapped = bootstrap::first_start(&db.write, &config.data_dir).await?;
        // Every service's handlers seal and open with the same keyring.
        let keyring = Arc::new(secrets::load(&config, true)?);
        for service in &mut services {
            service.state.insert(keyring.clone());
        }
        let metrics = Arc::new(Metrics::new(config.metrics));
        let routes = Arc::new(RouteTable::build(services, &config, &metrics)?);
        let local_names = routes.all_names();
        upstream::config::check(&config.upstreams, &local_names, &RESERVED)?;
        let documents = Documents::new(routes.clone(), config.public_url.as_deref());
        let listener = TcpListener::bind(config.listen)
            .await
            .with_context(|| format!("binding {}", config.listen))?;
        let local_addr = listener.local_addr()?;
        let issuer = match &config.public_url {
            Some(url) => url.trim_end_matches('/').to_owned(),
            None => format!("{}://{local_addr}", config.scheme()),
        };
        let identity = Identity::open(db.write.clone(), issuer).await?;
        let upstreams = Upstreams::start(
            &config.upstreams,
            config.response_threshold,
            identity.clone(),
            db.write.clone(),
            metrics.clone(),
        )
        .map_err(anyhow::Error::msg)?;
        let rate_limits = Arc::new(RateLimits::new(
            &config.rate_limits,
            &routes,
            &upstreams.current(),
        )?);
        let metrics_listener = match config.metrics_listen.filter(|_| config.metrics) {
            Some(addr) => Some(
                TcpListener::bind(addr)
                    .await
                    .with_context(|| format!("binding metrics_listen {addr}"))?,
            ),
            None => None,
        };
        let auth_epoch = Arc::new(AuthEpoch::open(&config)?);
        let tokens = TokenVerifier::new(
            db.read.clone(),
            db.write.clone(),
            sqlite_reader.clone(),
            auth_epoch.clone(),
        );
        let jobs = Jobs::start(
            db.clone(),
            sqlite_write.clone(),
            routes.clone(),
            upstreams.clone(),
            jobs::Settings::from_config(&config),
            auth_epoch,
        )
        .await?;
        routes.install_engine(jobs.clone());
        let sweeps = std::iter::once((
            "finished job results",
            jobs::store::sweep_expired as actiongate_service::SweepExpired,
        ))
        .chain(routes.sweeps().iter().copied())
        .collect();
        let mut background = vec![
            sweeper::spawn(db.write.clone(), sweeps, config.result_sweep_interval),
            tokens.spawn_last_used_writer(config.token_last_used_interval),
            rate_limits.spawn_shrinker(Duration::from_secs(60)),
            spawn_metrics_upkeep(metrics.clone()),
            identity.spawn_refresher(),
        ];
        let (grace, drain_delay) = (config.shutdown_grace, config.drain_delay);
        let draining = Arc::new(AtomicBool::new(false));
        let gateway = Arc::new(Gateway {
            config,
            db,
            routes,
            tokens,
            rate_limits,
            jobs,
            upstreams: upstreams.clone(),
            documents,
            metrics,
            sqlite_reader,
            sqlite_write,
            migrations,
            draining: draining.clone(),
            local_addr,
        });
        let (stop, stopped) = oneshot::channel::<()>();
        let server = tokio::spawn(server::serve(
            listener,
            gateway.clone(),
            tls,
            grace,
            async {
                let _ = stopped.await;
            },
        ));
        tracing::info!(addr = %local_addr, tls = gateway.config().tls.cert.is_some(), "actiongate listening");
        let mut metrics_addr = None;
        if let Some(listener) = metrics_listener {
            let addr = listener.local_addr()?;
            metrics_addr = Some(addr);
            tracing::info!(%addr, "metrics listening");
            background.push(tokio::spawn(server::serve_metrics(
                listener,
                gateway.clone(),
            )));
        }
        // Startup's work (migrations, the route table) is
        // done; what it freed on this thread goes back to the system.
        crate::memory::give_back();
        Ok(RunningGateway {
            addr: local_addr,
            metrics_addr,
            bootstrapped,
            jobs: gateway.jobs.clone(),
            upstreams,
            local_names,
            grace,
            drain_delay,
            draining,
            stop: Some(stop),
            server,
            background,
        })
    }
}

/// Folds histogram samples into buckets every few seconds, so memory stays
/// flat however rarely the metrics are scraped.
fn spawn_metrics_upkeep(metrics: Arc<Metrics>) -> JoinHandle<()> {
    tokio::spawn(async move {
        if !metrics.enabled() {
            return;
        }
        let mut every = tokio::time::interval(Duration::from_secs(5));
        loop {
            every.tick().await;
            metrics.run_upkeep();
        }
    })
}

/// Reloads a running gateway's upstream section.
pub struct Reloader {
    upstreams: Arc<Upstreams>,
    local_names: Vec<&'static str>,
}

impl Reloader {
    /// Puts `config`'s upstream section in force for new calls; calls in
    /// flight finish on the section they started with. Nothing changes if
    /// the section is invalid. Returns whether it changed.
    pub fn reload(&self, config: &Config) -> anyhow::Result<bool> {
        upstream::config::check(&config.upstreams, &self.local_names, &RESERVED)?;
        self.upstreams
            .reload(&config.upstreams)
            .map_err(anyhow::Error::msg)
    }
}

/// A started gateway. Dropping it does not stop the server; call
/// [`RunningGateway::shutdown`].
pub struct RunningGateway {
    pub addr: SocketAddr,
    /// Where `GET /metrics` is served without a token (`metrics_listen`).
    pub metrics_addr: Option<SocketAddr>,
    /// Set on the first start of an empty database.
    pub bootstrapped: Option<Bootstrapped>,
    jobs: Arc<Jobs>,
    upstreams: Arc<Upstreams>,
    /// Names upstreams may not take.
    local_names: Vec<&'static str>,
    grace: Duration,
    drain_delay: Duration,
    draining: Arc<AtomicBool>,
    stop: Option<oneshot::Sender<()>>,
    server: JoinHandle<()>,
    background: Vec<JoinHandle<()>>,
}

impl RunningGateway {
    /// This process's name in the job table (`jobs.node_id`).
    pub fn node_id(&self) -> &str {
        self.jobs.node_id()
    }

    /// What reloads the upstream section (on `SIGHUP`).
    pub fn reloader(&self) -> Reloader {
        Reloader {
            upstreams: self.upstreams.clone(),
            local_names: self.local_names.clone(),
        }
    }

    /// Answers `/readyz` with 503 for the drain delay while still serving,
    /// then stops accepting; gives open requests and running jobs the grace
    /// period to finish, hands unfinished jobs back to the queue, and
    /// returns.
    pub async fn shutdown(mut self) {
        self.draining.store(true, Ordering::Relaxed);
        tokio::time::sleep(self.drain_delay).await;
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        let server = &mut self.server;
        let (_server_ended, ()) = tokio::join!(server, self.jobs.shutdown(self.grace));
        self.upstreams.stop();
        for task in &self.background {
            task.abort();
        }
    }
}
