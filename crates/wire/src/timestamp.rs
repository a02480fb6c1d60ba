//! RFC 3339 UTC timestamps with millisecond precision, as the envelope
//! carries them (`2026-11-23T17:24:33.105Z`).

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use time::format_description::well_known::Rfc3339;
use time::OffsetDateTime;

/// A point in time, always written in UTC with milliseconds and a `Z`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Timestamp(OffsetDateTime);

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

impl Timestamp {
    /// `YYYY-MM-DDTHH:MM:SS.mmmZ`, written without a format description:
    /// every envelope carries two of these.
    pub fn encode(self) -> [u8; 24] {
        fn put(out: &mut [u8], value: u32) {
            let mut value = value;
            for slot in out.iter_mut().rev() {
                *slot = b'0' + (value % 10) as u8;
                value /= 10;
            }
        }
        let at = self.0;
        let mut out = *b"0000-00-00T00:00:00.000Z";
        // Years outside 0..=9999 cannot be built from a Unix time in ms that
        // fits the database's i64, but clamp rather than write garbage.
        put(&mut out[0..4], at.year().clamp(0, 9999) as u32);
        put(&mut out[5..7], u32::from(u8::from(at.month())));
        put(&mut out[8..10], u32::from(at.day()));
        put(&mut out[11..13], u32::from(at.hour()));
        put(&mut out[14..16], u32::from(at.minute()));
        put(&mut out[17..19], u32::from(at.second()));
        put(&mut out[20..23], u32::from(at.millisecond()));
        out
    }
}

impl std::fmt::Display for Timestamp {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let text = self.encode();
        f.write_str(std::str::from_utf8(&text).map_err(|_| std::fmt::Error)?)
    }
}

impl schemars::JsonSchema for Timestamp {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "Timestamp".into()
    }

    fn json_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
        schemars::json_schema!({
            "type": "string",
            "format": "date-time",
            "description": "RFC 3339, in UTC with milliseconds: 2026-11-23T17:24:33.105Z",
        })
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
    fn encodes_like_the_format_description() {
        use time::macros::format_description;
        let format = format_description!(
            "[year]-[month]-[day]T[hour]:[minute]:[second].[subsecond digits:3]Z"
        );
        for ms in [
            0_i64,
            1,
            999,
            1_000,
            86_399_999,
            1_795_000_000_123,
            253_402_300_799_999,
        ] {
            let at = Timestamp::from_unix_ms(ms);
            assert_eq!(
                at.to_string(),
                at.datetime().format(format).unwrap(),
                "{ms}"
            );
        }
    }

    #[test]
    fn formats_with_millis_and_z() {
        let at = Timestamp::parse("2026-11-23T17:24:33.105123+02:00").unwrap();
        assert_eq!(at.to_string(), "2026-11-23T15:24:33.105Z");
    }
}
