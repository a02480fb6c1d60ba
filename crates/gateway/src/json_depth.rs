//! How deep a JSON body nests, found by scanning its bytes before any
//! parser recurses into it: JSON bodies and the JSON parts of multipart
//! bodies are both checked with it.

use actiongate_wire::{ApiError, Status};

/// `InvalidPayloadReceived` if arrays and objects nest deeper than `limit`
/// (outside strings), before any parser recurses into them.
pub fn check_depth(body: &[u8], limit: usize) -> Result<(), ApiError> {
    let mut depth = 0usize;
    let mut in_string = false;
    let mut escaped = false;
    for &byte in body {
        if in_string {
            match (escaped, byte) {
                (true, _) => escaped = false,
                (false, b'\\') => escaped = true,
                (false, b'"') => in_string = false,
                _ => {}
            }
            continue;
        }
        match byte {
            b'"' => in_string = true,
            b'[' | b'{' => {
                depth += 1;
                if depth > limit {
                    return Err(ApiError::new(
                        Status::InvalidPayloadReceived,
                        format!("The body nests arrays and objects deeper than {limit} levels"),
                    ));
                }
            }
            b']' | b'}' => depth = depth.saturating_sub(1),
            _ => {}
        }
    }
    Ok(())
}
