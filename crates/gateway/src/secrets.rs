//! Where the keyring that seals sensitive values comes from, and its
//! rotation (`actiongate secrets rotate-key`).
//!
//! In order: `ACTIONGATE_SECRETS_KEY` (one key, base64 of 32 bytes); the
//! file `secrets_key_file` names (it must exist); or `secrets.key` in the
//! data directory, made with mode 0600 at first start. The file is JSON:
//! `{"primary": "key_...", "keys": {"key_...": "<base64>", ...}}`. A
//! rotation adds a key and makes it primary; the older keys stay, so that
//! whatever they sealed still opens. Gateways on PostgreSQL share the
//! database and must share the file too.

use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};

use actiongate_service::secrets::{generate_key, key_id, KeyMaterial, Keyring};
use anyhow::{bail, Context};
use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use serde::{Deserialize, Serialize};

use crate::Config;

/// The keyring file's contents.
#[derive(Serialize, Deserialize)]
struct KeyFile {
    primary: String,
    keys: BTreeMap<String, String>,
}

impl KeyFile {
    fn keyring(&self, path: &Path) -> anyhow::Result<Keyring> {
        let materials = self
            .keys
            .iter()
            .map(|(id, text)| {
                let material =
                    decode(text).with_context(|| format!("{}: key {id}", path.display()))?;
                if key_id(&material) != *id {
                    bail!("{}: key {id} does not match its id", path.display());
                }
                Ok(material)
            })
            .collect::<anyhow::Result<Vec<_>>>()?;
        Keyring::new(&self.primary, &materials).with_context(|| {
            format!(
                "{}: the primary key {} is not among its keys",
                path.display(),
                self.primary
            )
        })
    }
}

fn decode(text: &str) -> anyhow::Result<KeyMaterial> {
    let bytes = STANDARD.decode(text.trim()).context("not base64")?;
    bytes
        .try_into()
        .map_err(|_| anyhow::anyhow!("a key is 32 bytes"))
}

/// The file the keyring lives in, unless the key comes from the
/// environment.
pub fn key_file(config: &Config) -> PathBuf {
    config
        .secrets_key_file
        .clone()
        .unwrap_or_else(|| config.data_dir.join("secrets.key"))
}

/// The keyring to start with. `make` says whether a missing default file
/// is made (at start) or stood in for by a throwaway key (a config check).
pub fn load(config: &Config, make: bool) -> anyhow::Result<Keyring> {
    if let Some(key) = &config.secrets_key {
        let material = decode(&key.0).context("ACTIONGATE_SECRETS_KEY")?;
        return Ok(Keyring::single(&material));
    }
    let path = key_file(config);
    if path.exists() {
        return read(&path);
    }
    if config.secrets_key_file.is_some() {
        bail!("secrets_key_file {} does not exist", path.display());
    }
    let material = generate_key();
    if make {
        let id = key_id(&material);
        write(
            &path,
            &KeyFile {
                primary: id.clone(),
                keys: BTreeMap::from([(id, STANDARD.encode(material))]),
            },
        )?;
        tracing::info!(file = %path.display(), "made the keyring for sensitive values");
    }
    Ok(Keyring::single(&material))
}

fn read(path: &Path) -> anyhow::Result<Keyring> {
    let text =
        std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
    let file: KeyFile = serde_json::from_str(&text)
        .with_context(|| format!("{} is not a keyring file", path.display()))?;
    file.keyring(path)
}

/// Adds a new key to the keyring file and makes it the primary; returns
/// the new keyring. The file is replaced whole, with mode 0600.
pub fn rotate(config: &Config) -> anyhow::Result<Keyring> {
    if config.secrets_key.is_some() {
        bail!(
            "the key comes from ACTIONGATE_SECRETS_KEY; a rotation needs a keyring file (secrets_key_file)"
        );
    }
    let path = key_file(config);
    let text =
        std::fs::read_to_string(&path).with_context(|| format!("reading {}", path.display()))?;
    let mut file: KeyFile = serde_json::from_str(&text)
        .with_context(|| format!("{} is not a keyring file", path.display()))?;
    let material = generate_key();
    let id = key_id(&material);
    file.keys.insert(id.clone(), STANDARD.encode(material));
    file.primary = id;
    let keyring = file.keyring(&path)?;
    write(&path, &file)?;
    Ok(keyring)
}

/// Writes `file` to `path` through a temporary file and a rename, readable
/// by its owner only.
fn write(path: &Path, file: &KeyFile) -> anyhow::Result<()> {
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    }
    let temporary = path.with_extension("new");
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    let mut out = options
        .open(&temporary)
        .with_context(|| format!("writing {}", temporary.display()))?;
    out.write_all(serde_json::to_string_pretty(file)?.as_bytes())?;
    out.sync_all()?;
    std::fs::rename(&temporary, path).with_context(|| format!("replacing {}", path.display()))?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_keyring_is_made_once_then_rotated_keeping_the_old_key() {
        let dir = tempfile::tempdir().unwrap();
        let config = Config {
            data_dir: dir.path().to_owned(),
            ..Config::default()
        };
        let first = load(&config, true).unwrap();
        let sealed = first.seal(b"value");
        let again = load(&config, true).unwrap();
        assert_eq!(again.primary(), first.primary(), "made once");
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(key_file(&config))
                .unwrap()
                .permissions()
                .mode();
            assert_eq!(mode & 0o777, 0o600);
        }
        let rotated = rotate(&config).unwrap();
        assert_ne!(rotated.primary(), first.primary());
        assert_eq!(rotated.open(&sealed).unwrap(), b"value");
        assert_eq!(load(&config, true).unwrap().primary(), rotated.primary());
    }

    #[test]
    fn a_named_file_must_exist_and_the_environment_key_is_one_key() {
        let dir = tempfile::tempdir().unwrap();
        let missing = Config {
            secrets_key_file: Some(dir.path().join("absent.key")),
            ..Config::default()
        };
        assert!(load(&missing, true).is_err());
        let material = generate_key();
        let from_env = Config {
            secrets_key: Some(crate::config::SecretText(STANDARD.encode(material))),
            ..Config::default()
        };
        assert_eq!(load(&from_env, true).unwrap().primary(), key_id(&material));
        assert!(rotate(&from_env).is_err());
        let short = Config {
            secrets_key: Some(crate::config::SecretText(STANDARD.encode([1u8; 16]))),
            ..Config::default()
        };
        assert!(load(&short, true).is_err());
    }
}
