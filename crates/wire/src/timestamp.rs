//! RFC 3339 UTC timestamps with millisecond precision, as the envelope
//! carries them (`2026-11-23T17:24:33.105Z`).

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use time::format_description::well_known::Rfc3339;
use time::macros::format_description;
use time::OffsetDateTime;

/// A point in time, always written in UTC with milliseconds and a `Z`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Timestamp(OffsetDateTime);

const FORMAT: &[time::format_description::FormatItem<'static>] =
    format_description!("[year]-[month]-[day]T[hour]:[minute]:[second].[subsecond digits:3]Z");

impl Timestamp {
    pub fn now() -> Self {
        Timestamp(OffsetDateTime::now_utc())
    }

    pub fn from_datetime(at: OffsetDateTime) -> Self {
        Timestamp(at.to_offset(time::UtcOffset::UTC))
    }

    pub fn datetime(self) -> OffsetDateTime {
        self.0
    }

    /// From milliseconds since the Unix epoch, as the database stores times.
    pub fn from_unix_ms(ms: i64) -> Self {
        let nanos = i128::from(ms) * 1_000_000;
        Timestamp(
            OffsetDateTime::from_unix_timestamp_nanos(nanos).unwrap_or(OffsetDateTime::UNIX_EPOCH),
        )
    }

    /// Milliseconds since the Unix epoch.
    pub fn unix_ms(self) -> i64 {
        i64::try_from(self.0.unix_timestamp_nanos() / 1_000_000).unwrap_or(i64::MAX)
    }

    /// The current time in milliseconds since the Unix epoch.
    pub fn now_ms() -> i64 {
        Self::now().unix_ms()
    }

    /// Parses any RFC 3339 timestamp and normalises it to UTC.
    pub fn parse(text: &str) -> Result<Self, time::error::Parse> {
        OffsetDateTime::parse(text, &Rfc3339).map(Self::from_datetime)
    }
}

impl std::fmt::Display for Timestamp {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Formatting a valid UTC datetime with this description cannot fail
        // for years 0..=9999, the only ones `OffsetDateTime` holds by default.
        let text = self.0.format(FORMAT).map_err(|_| std::fmt::Error)?;
        f.write_str(&text)
    }
}

impl Serialize for Timestamp {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Timestamp {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = <std::borrow::Cow<'de, str>>::deserialize(deserializer)?;
        Timestamp::parse(&text).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unix_ms_round_trips() {
        let at = Timestamp::parse("2026-11-23T15:24:33.105Z").unwrap();
        assert_eq!(Timestamp::from_unix_ms(at.unix_ms()), at);
    }

    #[test]
    fn formats_with_millis_and_z() {
        let at = Timestamp::parse("2026-11-23T17:24:33.105123+02:00").unwrap();
        assert_eq!(at.to_string(), "2026-11-23T15:24:33.105Z");
    }
}
