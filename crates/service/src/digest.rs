//! SHA-256 in lowercase hex: how secrets (tokens, invite tokens) are
//! stored, and how bodies and files are fingerprinted.

use sha2::{Digest, Sha256};

/// SHA-256 of `data`, in lowercase hex.
pub fn sha256_hex(data: &[u8]) -> String {
    hex(&Sha256::digest(data).into())
}

/// A 32-byte digest in lowercase hex.
pub fn hex(digest: &[u8; 32]) -> String {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let mut out = String::with_capacity(64);
    for byte in digest {
        out.push(HEX[(byte >> 4) as usize] as char);
        out.push(HEX[(byte & 0xf) as usize] as char);
    }
    out
}
