//! The console service's contract: each action's declaration and its input
//! and output types. No I/O: this is all that is compiled without the
//! `server` feature, and what `actiongate-client` calls.

pub mod icon;
pub mod org;
pub mod ownership;
pub mod project;

use actiongate_wire::Page;

actiongate_wire::actions! {
    service "console";
    PlatformOrgGetV1beta: sync "v1beta" "platform/org/get", org::OrgId => org::Organization;
    PlatformOrgUpdateV1beta: sync "v1beta" "platform/org/update", org::UpdateOrgV1beta => org::Organization;
    PlatformProjectGetV1beta: sync "v1beta" "platform/project/get", project::ProjectId => project::Project;
    PlatformProjectListV1beta: sync "v1beta" "platform/project/list", project::ListV1beta => Page<project::Project>;
    PlatformProjectCreateV1beta: sync "v1beta" "platform/project/create", project::CreateV1beta => project::Project;
    PlatformProjectUpdateV1beta: sync "v1beta" "platform/project/update", project::UpdateV1beta => project::Project;
    PlatformProjectDeleteV1beta: async "v1beta" "platform/project/delete", project::ProjectId => org::Deleted;
    OrgCreate: sync "v1" "org/create", org::CreateOrg => org::Organization;
    OrgGet: sync "v1" "org/get", org::OrgId => org::Organization;
    OrgList: sync "v1" "org/list", org::ListOrgs => Page<org::Organization>;
    OrgUpdate: sync "v1" "org/update", org::UpdateOrg => org::Organization;
    OrgDelete: async "v1" "org/delete", org::OrgId => org::Deleted;
    OrgTransfer: sync "v1" "org/transfer", org::TransferOrg => org::Organization;
    ProjectCreate: sync "v1" "project/create", project::Create => project::Project;
    ProjectGet: sync "v1" "project/get", project::ProjectId => project::Project;
    ProjectList: sync "v1" "project/list", project::List => Page<project::Project>;
    ProjectUpdate: sync "v1" "project/update", project::Update => project::Project;
    ProjectDelete: async "v1" "project/delete", project::ProjectId => org::Deleted;
    ProjectTransfer: sync "v1" "project/transfer", ownership::Transfer => project::Project;
    ProjectIconUpload: sync "v1" "project/icon/upload", icon::UploadIcon => project::Project;
    ProjectIconDelete: sync "v1" "project/icon/delete", project::ProjectId => project::Project;
    ProjectIconGet: sync "v1" "project/icon/get", project::ProjectId => icon::Icon;
}
