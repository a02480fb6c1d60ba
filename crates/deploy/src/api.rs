//! The deploy service's contract: each action's declaration and its input
//! and output types. No I/O: this is all that is compiled without the
//! `server` feature, and what `actiongate-client` calls.

pub mod activity;
pub mod backup;
pub mod environment;
pub mod integration;
pub mod lifecycle;
pub mod settings;
pub mod variable;

use actiongate_wire::Page;

actiongate_wire::actions! {
    service "deploy";
    EnvironmentCreate: sync "v1" "environment/create", environment::Create => environment::Environment;
    EnvironmentList: sync "v1" "environment/list", environment::List => Page<environment::Environment>;
    EnvironmentGet: sync "v1" "environment/get", environment::EnvironmentId => environment::Environment;
    EnvironmentUpdate: sync "v1" "environment/update", environment::Update => environment::Environment;
    EnvironmentDelete: sync "v1" "environment/delete", environment::Delete => environment::Deleted;
    EnvironmentSetDefault: sync "v1" "environment/set_default", environment::EnvironmentId => environment::Environment;
    EnvironmentClone: async "v1" "environment/clone", environment::Clone => environment::Environment;
    EnvironmentBranch: async "v1" "environment/branch", lifecycle::Branch => environment::Environment;
    EnvironmentMerge: async "v1" "environment/merge", environment::EnvironmentId => environment::Environment;
    EnvironmentSync: async "v1" "environment/sync", lifecycle::Sync => environment::Environment;
    EnvironmentPause: async "v1" "environment/pause", environment::EnvironmentId => environment::Environment;
    EnvironmentResume: async "v1" "environment/resume", environment::EnvironmentId => environment::Environment;
    VariableCreate: sync "v1" "variable/create", variable::Create => variable::Variable;
    VariableList: sync "v1" "variable/list", variable::List => Page<variable::Variable>;
    VariableResolve: sync "v1" "variable/resolve", variable::Resolve => variable::ResolvedSet;
    VariableGet: sync "v1" "variable/get", variable::VariableId => variable::Variable;
    VariableUpdate: sync "v1" "variable/update", variable::Update => variable::Variable;
    VariableDelete: sync "v1" "variable/delete", variable::VariableId => variable::Variable;
    ActivityList: sync "v1" "activity/list", activity::List => Page<activity::Activity>;
    ActivityGet: sync "v1" "activity/get", activity::ActivityId => activity::Activity;
    ActivityCancel: sync "v1" "activity/cancel", activity::ActivityId => activity::Activity;
    BackupCreate: async "v1" "backup/create", backup::Create => backup::Backup;
    BackupList: sync "v1" "backup/list", backup::List => Page<backup::Backup>;
    BackupGet: sync "v1" "backup/get", backup::BackupId => backup::Backup;
    BackupDelete: sync "v1" "backup/delete", backup::BackupId => backup::Backup;
    BackupRestore: async "v1" "backup/restore", backup::Restore => environment::Environment;
    IntegrationCreate: sync "v1" "integration/create", integration::Create => integration::Integration;
    IntegrationList: sync "v1" "integration/list", integration::List => Page<integration::Integration>;
    IntegrationGet: sync "v1" "integration/get", integration::IntegrationId => integration::Integration;
    IntegrationUpdate: sync "v1" "integration/update", integration::Update => integration::Integration;
    IntegrationDelete: sync "v1" "integration/delete", integration::IntegrationId => integration::Integration;
    IntegrationDeliveries: sync "v1" "integration/deliveries", integration::ListDeliveries => Page<integration::Attempt>;
}

/// `true`, as a serde default.
pub(crate) fn yes() -> bool {
    true
}
