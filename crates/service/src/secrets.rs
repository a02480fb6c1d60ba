//! Sensitive values at rest: sealed with AES-256-GCM (ring) under the
//! keyring's primary key, each stored with the id of the key that sealed
//! it, so that a rotation can re-seal them and any key still opens what it
//! sealed.
//!
//! The gateway loads the keyring (`secrets_key_file`,
//! `ACTIONGATE_SECRETS_KEY`, or a file made at first start) and hands it
//! to every service; handlers reach it with `ctx.state::<Arc<Keyring>>()`.
//! Nothing here reads files.

use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use ring::aead::{Aad, LessSafeKey, Nonce, UnboundKey, AES_256_GCM, NONCE_LEN};
use ring::rand::{SecureRandom, SystemRandom};
use sha2::{Digest, Sha256};

/// A key's bytes.
pub type KeyMaterial = [u8; 32];

/// A value sealed by one key of a keyring.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Sealed {
    /// The id of the key that sealed it.
    pub key_id: String,
    /// Base64 of the nonce, the ciphertext and its tag.
    pub text: String,
}

/// A value could not be opened: no key of that id, or it was altered.
#[derive(Debug, PartialEq, Eq)]
pub struct Unopenable {
    pub key_id: String,
}

impl std::fmt::Display for Unopenable {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "a value sealed by key {} cannot be opened: the key is missing from the keyring, or the value was altered",
            self.key_id
        )
    }
}

impl std::error::Error for Unopenable {}

/// The keys sensitive values are sealed with: one primary that seals, and
/// every older one that may still open.
pub struct Keyring {
    primary: String,
    keys: Vec<(String, LessSafeKey)>,
    random: SystemRandom,
}

impl std::fmt::Debug for Keyring {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never the keys themselves.
        f.debug_struct("Keyring")
            .field("primary", &self.primary)
            .field("keys", &self.keys.len())
            .finish()
    }
}

impl Keyring {
    /// A keyring of `keys`, sealing with the one whose id is `primary`
    /// (which must be among them).
    pub fn new(primary: &str, keys: &[KeyMaterial]) -> Option<Keyring> {
        let keys: Vec<(String, LessSafeKey)> = keys
            .iter()
            .map(|material| {
                let key =
                    UnboundKey::new(&AES_256_GCM, material).expect("32 bytes is an AES-256 key");
                (key_id(material), LessSafeKey::new(key))
            })
            .collect();
        keys.iter().any(|(id, _)| id == primary).then(|| Keyring {
            primary: primary.to_owned(),
            keys,
            random: SystemRandom::new(),
        })
    }

    /// A keyring of one key.
    pub fn single(material: &KeyMaterial) -> Keyring {
        Keyring::new(&key_id(material), std::slice::from_ref(material))
            .expect("the one key is the primary")
    }

    /// The id of the key that seals.
    pub fn primary(&self) -> &str {
        &self.primary
    }

    /// Seals `plaintext` under the primary key, with a fresh random nonce.
    pub fn seal(&self, plaintext: &[u8]) -> Sealed {
        let key = self
            .key(&self.primary)
            .expect("the primary is in the keyring");
        let mut nonce = [0u8; NONCE_LEN];
        self.random
            .fill(&mut nonce)
            .expect("the system's random source works");
        let mut sealed = plaintext.to_vec();
        key.seal_in_place_append_tag(
            Nonce::assume_unique_for_key(nonce),
            Aad::empty(),
            &mut sealed,
        )
        .expect("AES-GCM seals any length this gateway stores");
        let mut out = nonce.to_vec();
        out.extend_from_slice(&sealed);
        Sealed {
            key_id: self.primary.clone(),
            text: STANDARD.encode(out),
        }
    }

    /// Opens a value sealed by any key of the keyring.
    pub fn open(&self, sealed: &Sealed) -> Result<Vec<u8>, Unopenable> {
        let fail = || Unopenable {
            key_id: sealed.key_id.clone(),
        };
        let key = self.key(&sealed.key_id).ok_or_else(fail)?;
        let bytes = STANDARD.decode(&sealed.text).map_err(|_| fail())?;
        if bytes.len() < NONCE_LEN {
            return Err(fail());
        }
        let (nonce, rest) = bytes.split_at(NONCE_LEN);
        let nonce = Nonce::try_assume_unique_for_key(nonce).map_err(|_| fail())?;
        let mut rest = rest.to_vec();
        let plain = key
            .open_in_place(nonce, Aad::empty(), &mut rest)
            .map_err(|_| fail())?;
        Ok(plain.to_vec())
    }

    /// Seals again under the primary key what another key sealed; `None`
    /// if the primary sealed it already.
    pub fn reseal(&self, sealed: &Sealed) -> Result<Option<Sealed>, Unopenable> {
        if sealed.key_id == self.primary {
            return Ok(None);
        }
        Ok(Some(self.seal(&self.open(sealed)?)))
    }

    fn key(&self, id: &str) -> Option<&LessSafeKey> {
        self.keys.iter().find(|(k, _)| k == id).map(|(_, key)| key)
    }
}

/// A new random key.
pub fn generate_key() -> KeyMaterial {
    let mut material = [0u8; 32];
    SystemRandom::new()
        .fill(&mut material)
        .expect("the system's random source works");
    material
}

/// A key's id: `key_` and the first 16 hex digits of its SHA-256. It names
/// the key without revealing it.
pub fn key_id(material: &KeyMaterial) -> String {
    let mut id = crate::hex(&Sha256::digest(material).into());
    id.truncate(16);
    format!("key_{id}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seals_and_opens_and_refuses_what_was_altered() {
        let keyring = Keyring::single(&generate_key());
        let sealed = keyring.seal(b"hunter2");
        assert_eq!(sealed.key_id, keyring.primary());
        assert!(!sealed.text.contains("hunter2"));
        assert_eq!(keyring.open(&sealed).unwrap(), b"hunter2");
        // A fresh nonce each time.
        assert_ne!(keyring.seal(b"hunter2").text, sealed.text);
        let mut altered = STANDARD.decode(&sealed.text).unwrap();
        *altered.last_mut().unwrap() ^= 1;
        let altered = Sealed {
            key_id: sealed.key_id.clone(),
            text: STANDARD.encode(altered),
        };
        assert!(keyring.open(&altered).is_err());
    }

    #[test]
    fn a_rotated_keyring_opens_the_old_and_reseals_under_the_new() {
        let (old, new) = (generate_key(), generate_key());
        let before = Keyring::single(&old);
        let sealed = before.seal(b"s3cret");
        let after = Keyring::new(&key_id(&new), &[old, new]).unwrap();
        let resealed = after.reseal(&sealed).unwrap().unwrap();
        assert_eq!(resealed.key_id, key_id(&new));
        assert_eq!(after.open(&resealed).unwrap(), b"s3cret");
        assert!(after.reseal(&resealed).unwrap().is_none());
        assert!(
            before.open(&resealed).is_err(),
            "the old keyring lacks the new key"
        );
        assert!(Keyring::new("key_missing", &[old]).is_none());
    }
}
