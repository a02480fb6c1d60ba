//! A project's icon: uploaded as a file (`multipart/form-data`, as the
//! Pangea SDKs send files), checked by its bytes, kept in the database,
//! and fetched at the project's `icon_path`
//! (`GET /console/v1/project/icon/<project id>`, the REST-style read of
//! `project/icon/get`).

use crate::entity::project_icon;
use actiongate_entity::project;
use actiongate_service::{encode_data, sha256_hex, ActionResult, ApiError, Ctx, Role};
use sea_orm::sea_query::OnConflict;
use sea_orm::{ActiveModelTrait, EntityTrait, IntoActiveModel, Set};

use crate::api::icon::{Icon, UploadIcon};
use crate::api::project::{Project, ProjectId};
use actiongate_kit::fields;
use actiongate_kit::scope;

/// The largest icon taken.
pub const MAX_ICON_BYTES: usize = 256 * 1024;

/// Where a project's icon is served.
fn icon_path(project_id: &str) -> String {
    format!("/console/v1/project/icon/{project_id}")
}

pub async fn upload(ctx: Ctx, input: UploadIcon) -> ActionResult<Project> {
    let data = input.file.data;
    if data.len() > MAX_ICON_BYTES {
        return Err(ApiError::invalid_field(
            "/file",
            "TooLarge",
            format!(
                "The icon is {} bytes; the most is {MAX_ICON_BYTES} (256 KiB)",
                data.len()
            ),
        )
        .into());
    }
    let content_type = image_type(&data).ok_or_else(|| {
        ApiError::invalid_field(
            "/file",
            "UnsupportedType",
            "The icon must be a PNG, JPEG or SVG image (judged by its content, not its name)",
        )
    })?;
    let txn = ctx.begin_write().await?;
    let scope = scope::project(&ctx, &txn, &input.id, Role::Admin).await?;
    let now = fields::now();
    let icon = project_icon::ActiveModel {
        project_id: Set(scope.project.id.clone()),
        content_type: Set(content_type.to_owned()),
        sha256: Set(sha256_hex(&data)),
        data: Set(data),
        created_at: Set(now),
    };
    project_icon::Entity::insert(icon)
        .on_conflict(
            OnConflict::column(project_icon::Column::ProjectId)
                .update_columns([
                    project_icon::Column::ContentType,
                    project_icon::Column::Sha256,
                    project_icon::Column::Data,
                    project_icon::Column::CreatedAt,
                ])
                .to_owned(),
        )
        .exec_without_returning(&txn)
        .await?;
    let path = icon_path(&scope.project.id);
    let updated = set_icon_path(&txn, scope.project, Some(path), now).await?;
    txn.commit_for(&updated.id).await?;
    Ok(updated.into())
}

pub async fn delete(ctx: Ctx, input: ProjectId) -> ActionResult<Project> {
    let txn = ctx.begin_write().await?;
    let scope = scope::project(&ctx, &txn, &input.id, Role::Admin).await?;
    let deleted = project_icon::Entity::delete_by_id(&scope.project.id)
        .exec(&txn)
        .await?;
    if deleted.rows_affected == 0 {
        return Err(ApiError::not_found("icon of project", &input.id).into());
    }
    let updated = set_icon_path(&txn, scope.project, None, fields::now()).await?;
    txn.commit_for(&updated.id).await?;
    Ok(updated.into())
}

pub async fn get(ctx: Ctx, input: ProjectId) -> ActionResult<Icon> {
    let scope = scope::project(&ctx, ctx.read(), &input.id, Role::Viewer).await?;
    let icon = project_icon::Entity::find_by_id(&scope.project.id)
        .one(ctx.read())
        .await?
        .ok_or_else(|| ApiError::not_found("icon of project", &input.id))?;
    Ok(Icon {
        project_id: icon.project_id,
        content_type: icon.content_type,
        size: icon.data.len(),
        sha256: icon.sha256,
        data: encode_data(&icon.data),
    })
}

async fn set_icon_path(
    txn: &actiongate_service::WriteTxn,
    project: project::Model,
    path: Option<String>,
    now: i64,
) -> Result<project::Model, sea_orm::DbErr> {
    let mut active = project.into_active_model();
    active.icon_path = Set(path);
    active.updated_at = Set(now);
    active.update(txn).await
}

/// The image type of `data` by its first bytes: PNG and JPEG by their
/// signatures, SVG by an `<svg` root element in UTF-8 text.
pub fn image_type(data: &[u8]) -> Option<&'static str> {
    const PNG: &[u8] = b"\x89PNG\r\n\x1a\n";
    const JPEG: &[u8] = b"\xff\xd8\xff";
    if data.starts_with(PNG) {
        return Some("image/png");
    }
    if data.starts_with(JPEG) {
        return Some("image/jpeg");
    }
    let text = std::str::from_utf8(data).ok()?;
    is_svg(text).then_some("image/svg+xml")
}

/// Whether the first element of `text`, past an XML declaration, comments
/// and a doctype, is `<svg`.
fn is_svg(text: &str) -> bool {
    let mut rest = text.trim_start_matches('\u{feff}').trim_start();
    loop {
        let skip_to = if rest.starts_with("<?") {
            "?>"
        } else if rest.starts_with("<!--") {
            "-->"
        } else if rest.starts_with("<!") {
            ">"
        } else {
            break;
        };
        match rest.find(skip_to) {
            Some(end) => rest = rest[end + skip_to.len()..].trim_start(),
            None => return false,
        }
    }
    rest.strip_prefix("<svg")
        .and_then(|after| after.chars().next())
        .is_some_and(|c| c.is_whitespace() || c == '>' || c == '/')
}

#[cfg(test)]
mod tests {
    use super::image_type;

    #[test]
    fn images_are_known_by_their_bytes() {
        assert_eq!(image_type(b"\x89PNG\r\n\x1a\n...."), Some("image/png"));
        assert_eq!(image_type(b"\xff\xd8\xff\xe0...."), Some("image/jpeg"));
        assert_eq!(
            image_type(b"<svg xmlns=\"http://www.w3.org/2000/svg\"/>"),
            Some("image/svg+xml")
        );
        assert_eq!(
            image_type(b"\xef\xbb\xbf<?xml version=\"1.0\"?>\n<!-- x -->\n<!DOCTYPE svg>\n<svg>"),
            Some("image/svg+xml")
        );
        for not_an_image in [
            &b"GIF89a...."[..],
            b"<svgx>",
            b"<html><svg></svg></html>",
            b"<!-- unterminated <svg>",
            b"PNG\r\n",
            b"",
        ] {
            assert_eq!(image_type(not_an_image), None, "{not_an_image:?}");
        }
    }
}
