//! When a signed URL stops working, read from its query: AWS S3 (`X-Amz-Date` +
//! `X-Amz-Expires`), Google Cloud Storage (`X-Goog-Date` + `X-Goog-Expires`), CloudFront and the
//! older S3/GCS form (`Expires` as Unix seconds beside a `Signature`), and Azure SAS (`se`
//! beside `sig`). Pure: no clock, no I/O; depends only on the `url` crate.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use url::Url;

/// The moment `url` expires, when its query is one of the signed forms above; `None` for any
/// other URL, and for a signed one whose dates do not parse (nothing is guessed).
pub fn expiry(url: &Url) -> Option<SystemTime> {
    let query: Vec<(String, String)> =
        url.query_pairs().map(|(k, v)| (k.into_owned(), v.into_owned())).collect();
    // AWS and Google spell their names in one case; proxies and hand-written URLs do not always.
    let get = |name: &str| query.iter().find(|(k, _)| k.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str());
    for (date, expires) in [("X-Amz-Date", "X-Amz-Expires"), ("X-Goog-Date", "X-Goog-Expires")] {
        if let (Some(date), Some(expires)) = (get(date), get(expires)) {
            let signed = parse_compact_utc(date)?;
            let seconds: u64 = expires.trim().parse().ok()?;
            return signed.checked_add(Duration::from_secs(seconds));
        }
    }
    // CloudFront: `Expires` with `Signature` and `Key-Pair-Id`; S3's and GCS's older form:
    // with `Signature` and `AWSAccessKeyId` or `GoogleAccessId`. A bare `Expires` is some
    // other site's parameter and means nothing.
    if let (Some(expires), Some(_)) = (get("Expires"), get("Signature"))
        && ["Key-Pair-Id", "AWSAccessKeyId", "GoogleAccessId"].iter().any(|k| get(k).is_some())
    {
        let seconds: u64 = expires.trim().parse().ok()?;
        return UNIX_EPOCH.checked_add(Duration::from_secs(seconds));
    }
    // Azure SAS: `se` (signed expiry) with `sig`; `se` is case-sensitive there, and so is it here
    // (an `SE` parameter is not Azure's).
    let exact = |name: &str| query.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str());
    if let (Some(se), Some(_)) = (exact("se"), exact("sig")) {
        return parse_iso8601_utc(se);
    }
    None
}

/// `20240102T030405Z` (AWS and Google's basic ISO 8601 form).
fn parse_compact_utc(text: &str) -> Option<SystemTime> {
    let b = text.as_bytes();
    // ASCII first: slicing below must not cut a multi-byte character.
    if !text.is_ascii() || b.len() != 16 || b[8] != b'T' || b[15] != b'Z' {
        return None;
    }
    let n = |from: usize, to: usize| digits(&text[from..to]);
    utc(n(0, 4)?, n(4, 6)?, n(6, 8)?, n(9, 11)?, n(11, 13)?, n(13, 15)?)
}

/// Azure's forms: `2024-01-02`, `2024-01-02T03:04Z`, `2024-01-02T03:04:05Z`, and with
/// fractional seconds `2024-01-02T03:04:05.1234567Z`. Only UTC (`Z`), as Azure requires.
fn parse_iso8601_utc(text: &str) -> Option<SystemTime> {
    let (date, time) = match text.split_once('T') {
        Some((date, time)) => (date, Some(time.strip_suffix('Z')?)),
        None => (text, None),
    };
    let mut d = date.split('-');
    let (y, mo, day) = (d.next()?, d.next()?, d.next()?);
    if d.next().is_some() || y.len() != 4 || mo.len() != 2 || day.len() != 2 {
        return None;
    }
    let (mut h, mut mi, mut s) = (0, 0, 0);
    if let Some(time) = time {
        let whole = time.split_once('.').map_or(time, |(whole, fraction)| {
            if fraction.is_empty() || !fraction.bytes().all(|c| c.is_ascii_digit()) { "" } else { whole }
        });
        let parts: Vec<&str> = whole.split(':').collect();
        if !(2..=3).contains(&parts.len()) || parts.iter().any(|p| p.len() != 2) {
            return None;
        }
        h = digits(parts[0])?;
        mi = digits(parts[1])?;
        s = parts.get(2).map_or(Some(0), |p| digits(p))?;
    }
    utc(digits(y)?, digits(mo)?, digits(day)?, h, mi, s)
}

fn digits(text: &str) -> Option<u64> {
    if text.is_empty() || !text.bytes().all(|c| c.is_ascii_digit()) {
        return None;
    }
    text.parse().ok()
}

/// A UTC calendar time as a `SystemTime`; `None` for impossible fields (month 13, 31 April,
/// 25 o'clock) and for dates before 1970.
fn utc(year: u64, month: u64, day: u64, hour: u64, minute: u64, second: u64) -> Option<SystemTime> {
    let leap = (year.is_multiple_of(4) && !year.is_multiple_of(100)) || year.is_multiple_of(400);
    let month_days = [31, if leap { 29 } else { 28 }, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31];
    let in_month = *month_days.get(usize::try_from(month).ok()?.checked_sub(1)?)?;
    if year < 1970 || day == 0 || day > in_month || hour > 23 || minute > 59 || second > 60 {
        return None;
    }
    let days = days_from_civil(year, month, day);
    let seconds = days.checked_mul(86_400)?.checked_add(hour * 3600 + minute * 60 + second)?;
    UNIX_EPOCH.checked_add(Duration::from_secs(seconds))
}

/// Days from 1970-01-01 to a date on or after it (Howard Hinnant's `days_from_civil`).
fn days_from_civil(year: u64, month: u64, day: u64) -> u64 {
    let y = if month <= 2 { year - 1 } else { year };
    let era = y / 400;
    let yoe = y - era * 400;
    let mp = (month + 9) % 12;
    let doy = (153 * mp + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(unix: u64) -> Option<SystemTime> {
        Some(UNIX_EPOCH + Duration::from_secs(unix))
    }

    fn expiry_of(url: &str) -> Option<SystemTime> {
        expiry(&Url::parse(url).unwrap())
    }

    #[test]
    fn aws_s3_presigned_url() {
        // From AWS's SigV4 documentation: 2013-05-24T00:00:00Z plus 86400 s.
        let url = "https://examplebucket.s3.amazonaws.com/test.txt?X-Amz-Algorithm=AWS4-HMAC-SHA256\
                   &X-Amz-Credential=AKIAIOSFODNN7EXAMPLE%2F20130524%2Fus-east-1%2Fs3%2Faws4_request\
                   &X-Amz-Date=20130524T000000Z&X-Amz-Expires=86400&X-Amz-SignedHeaders=host\
                   &X-Amz-Signature=aeeed9bbccd4d02ee5c0109b86d86835f995330da4c265957d157751f604d404";
        assert_eq!(expiry_of(url), at(1_369_353_600 + 86_400));
    }

    #[test]
    fn google_cloud_storage_v4_signed_url() {
        let url = "https://storage.googleapis.com/bucket/obj.bin?X-Goog-Algorithm=GOOG4-RSA-SHA256\
                   &X-Goog-Credential=sa%40p.iam.gserviceaccount.com%2F20240102%2Fauto%2Fstorage%2Fgoog4_request\
                   &X-Goog-Date=20240102T030405Z&X-Goog-Expires=900&X-Goog-SignedHeaders=host\
                   &X-Goog-Signature=0123abcd";
        // 2024-01-02T03:04:05Z is 1704164645.
        assert_eq!(expiry_of(url), at(1_704_164_645 + 900));
    }

    #[test]
    fn cloudfront_and_older_s3_forms() {
        let cf = "https://d111111abcdef8.cloudfront.net/image.jpg?Expires=1893456000\
                  &Signature=nitfHRCrtziwO2HwPfWw~yYDhUF5EwRunQA-j19DzZrvDh6hQ73lDx~-ar3UocvvRQ\
                  &Key-Pair-Id=K2JCJMDEHXQW5F";
        assert_eq!(expiry_of(cf), at(1_893_456_000));
        let s3v2 =
            "https://bucket.s3.amazonaws.com/k?AWSAccessKeyId=AKIA&Expires=1700000000&Signature=abc%3D";
        assert_eq!(expiry_of(s3v2), at(1_700_000_000));
        assert_eq!(expiry_of("https://example.com/f?Expires=1700000000"), None, "not signed");
        assert_eq!(expiry_of("https://example.com/f?Expires=1700000000&Signature=x"), None, "no key id");
    }

    #[test]
    fn azure_sas_in_each_date_form() {
        let base = "https://acct.blob.core.windows.net/c/blob.iso?sv=2022-11-02&sr=b&sp=r&sig=abc%2Bdef%3D";
        assert_eq!(expiry_of(&format!("{base}&se=2024-01-02T03:04:05Z")), at(1_704_164_645));
        assert_eq!(expiry_of(&format!("{base}&se=2024-01-02T03%3A04%3A05Z")), at(1_704_164_645));
        assert_eq!(expiry_of(&format!("{base}&se=2024-01-02T03:04Z")), at(1_704_164_640));
        assert_eq!(expiry_of(&format!("{base}&se=2024-01-02T03:04:05.1234567Z")), at(1_704_164_645));
        assert_eq!(expiry_of(&format!("{base}&se=2024-01-02")), at(1_704_153_600));
        assert_eq!(expiry_of("https://a.blob.core.windows.net/c/b?se=2024-01-02"), None, "no sig");
    }

    #[test]
    fn garbage_and_ordinary_urls_have_no_expiry() {
        for url in [
            "https://example.com/file.iso",
            "https://example.com/file.iso?token=abc&expires=soon",
            "https://s3.example/k?X-Amz-Date=20130524T000000Z",
            "https://s3.example/k?X-Amz-Date=2013-05-24&X-Amz-Expires=60",
            "https://s3.example/k?X-Amz-Date=20131324T000000Z&X-Amz-Expires=60",
            "https://s3.example/k?X-Amz-Date=20130230T000000Z&X-Amz-Expires=60",
            "https://s3.example/k?X-Amz-Date=20130524T250000Z&X-Amz-Expires=60",
            "https://s3.example/k?X-Amz-Date=20130524T000000Z&X-Amz-Expires=-5",
            "https://s3.example/k?X-Amz-Date=20130524T000000Z&X-Amz-Expires=99999999999999999999999",
            "https://s3.example/k?X-Amz-Date=%EF%BC%92%EF%BC%90130524T000000Z&X-Amz-Expires=6",
            "https://cf.example/k?Expires=soon&Signature=x&Key-Pair-Id=y",
            "https://a.blob.example/c/b?se=tomorrow&sig=x",
            "https://a.blob.example/c/b?se=2024-01-02T03:04:05%2B01:00&sig=x",
            "https://a.blob.example/c/b?se=2024-1-2&sig=x",
            "https://a.blob.example/c/b?se=1969-12-31&sig=x",
            "https://a.blob.example/c/b?se=2024-01-02T03:04:05.Z&sig=x",
            "https://s3.example/k?X-Amz-Date=20130%C3%A94T000000Z&X-Amz-Expires=6",
        ] {
            assert_eq!(expiry_of(url), None, "{url}");
        }
    }

    #[test]
    fn calendar_arithmetic_matches_known_dates() {
        assert_eq!(utc(1970, 1, 1, 0, 0, 0), at(0));
        assert_eq!(utc(2000, 2, 29, 0, 0, 0), at(951_782_400));
        assert_eq!(utc(2100, 2, 29, 0, 0, 0), None, "2100 is not a leap year");
        assert_eq!(utc(2038, 1, 19, 3, 14, 8), at(2_147_483_648));
    }
}
