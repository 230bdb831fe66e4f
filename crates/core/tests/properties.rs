//! Property tests of the parsers: round trips and the error detection of MOD 11-2.

use proptest::prelude::*;
use time::{Date, macros::date};
use zhucan_core::{
    Category, CertificateError, CertificateNo, DivisionCode, DivisionLevel, Grade, Money, Phone,
    ResidentId, today_shanghai,
};

const PROVINCES: [u8; 34] = [
    11, 12, 13, 14, 15, 21, 22, 23, 31, 32, 33, 34, 35, 36, 37, 41, 42, 43, 44, 45, 46, 50, 51, 52,
    53, 54, 61, 62, 63, 64, 65, 71, 81, 82,
];

/// A province-valid prefix followed by `digits` random digits.
fn code_with(digits: usize) -> impl Strategy<Value = String> {
    (
        prop::sample::select(&PROVINCES[..]),
        prop::collection::vec(0..10u8, digits),
    )
        .prop_map(|(province, rest)| {
            let rest: String = rest.iter().map(u8::to_string).collect();
            format!("{province}{rest}")
        })
}

fn birth_date() -> impl Strategy<Value = Date> {
    let first = date!(1900 - 01 - 01).to_julian_day();
    let last = today_shanghai().to_julian_day();
    (first..=last).prop_map(|day| Date::from_julian_day(day).unwrap())
}

fn resident_id() -> impl Strategy<Value = ResidentId> {
    (code_with(4), birth_date(), 0..=999u16).prop_map(|(address, birth, sequence)| {
        ResidentId::from_parts(&address, birth, sequence).unwrap()
    })
}

fn category() -> impl Strategy<Value = Category> {
    prop::sample::select(&Category::ALL[..])
}

fn grade() -> impl Strategy<Value = Grade> {
    prop::sample::select(&Grade::ALL[..])
}

fn certificate() -> impl Strategy<Value = CertificateNo> {
    (
        resident_id(),
        category(),
        grade(),
        prop::option::of(1..=99u8),
    )
        .prop_map(|(id, category, grade, replacement)| {
            let number = CertificateNo::new(id, category, grade);
            match replacement {
                Some(n) => number.with_replacement(n).unwrap(),
                None => number,
            }
        })
}

/// Segments below the district are never `000`; NBS uses that only as padding.
fn division_code() -> impl Strategy<Value = DivisionCode> {
    (code_with(4), prop::collection::vec(1..=999u16, 0..=2)).prop_map(|(district, segments)| {
        let below: String = segments.iter().map(|s| format!("{s:03}")).collect();
        DivisionCode::parse(&format!("{district}{below}")).unwrap()
    })
}

proptest! {
    #[test]
    fn resident_ids_round_trip(id in resident_id()) {
        let parsed = ResidentId::parse(&id.to_string()).unwrap();
        prop_assert_eq!(parsed.as_str(), id.as_str());
        prop_assert_eq!(parsed.birth_date(), id.birth_date());
        prop_assert_eq!(&parsed, &id);
        let lower = id.as_str().to_lowercase();
        prop_assert_eq!(ResidentId::parse(&lower).unwrap(), id);
    }

    #[test]
    fn every_single_substitution_is_rejected(id in resident_id(), position in 0..18usize) {
        let original = id.as_str().as_bytes()[position];
        let alphabet: &[u8] = if position == 17 { b"0123456789X" } else { b"0123456789" };
        for &replacement in alphabet.iter().filter(|&&c| c != original) {
            let mut bytes = id.as_str().as_bytes().to_vec();
            bytes[position] = replacement;
            let altered = String::from_utf8(bytes).unwrap();
            prop_assert!(ResidentId::parse(&altered).is_err(), "{} accepted", altered);
        }
    }

    #[test]
    fn adjacent_transpositions_are_rejected(id in resident_id(), position in 0..17usize) {
        let mut bytes = id.as_str().as_bytes().to_vec();
        prop_assume!(bytes[position] != bytes[position + 1]);
        bytes.swap(position, position + 1);
        let altered = String::from_utf8(bytes).unwrap();
        prop_assert!(ResidentId::parse(&altered).is_err(), "{} accepted", altered);
    }

    #[test]
    fn certificate_numbers_round_trip(number in certificate()) {
        prop_assert_eq!(CertificateNo::parse(number.as_str()).unwrap(), number.clone());
        let lower = number.as_str().to_lowercase();
        prop_assert_eq!(CertificateNo::parse(&lower).unwrap(), number.clone());
        prop_assert_eq!(
            CertificateNo::parse_for(number.as_str(), number.resident_id()).unwrap(),
            number
        );
    }

    #[test]
    fn certificate_numbers_reject_another_holder(number in certificate(), other in resident_id()) {
        prop_assume!(&other != number.resident_id());
        prop_assert_eq!(
            CertificateNo::parse_for(number.as_str(), &other),
            Err(CertificateError::HolderMismatch)
        );
    }

    #[test]
    fn division_chains_are_consistent(code in division_code()) {
        prop_assert_eq!(DivisionCode::parse(code.as_str()).unwrap(), code.clone());
        let chain = code.chain();
        prop_assert_eq!(chain.first(), Some(&code.district()));
        prop_assert_eq!(chain.last(), Some(&code));
        prop_assert_eq!(chain[0].level(), DivisionLevel::District);
        for pair in chain.windows(2) {
            prop_assert_eq!(pair[1].parent(), Some(pair[0].clone()));
            prop_assert!(pair[0].level() < pair[1].level());
        }
        for ancestor in &chain {
            prop_assert!(ancestor.contains(&code));
        }
        prop_assert_eq!(chain[0].parent(), None);
    }

    #[test]
    fn money_display_round_trips(fen in any::<i64>()) {
        let money = Money::from_fen(fen);
        prop_assert_eq!(money.to_string().parse::<Money>(), Ok(money));
    }

    #[test]
    fn money_plain_decimals_parse(yuan in 0..10_000_000_000i64, fen in 0..100i64) {
        let parsed = Money::parse(&format!("{yuan}.{fen:02}")).unwrap();
        prop_assert_eq!(parsed.fen(), yuan * 100 + fen);
    }

    #[test]
    fn id_and_certificate_masks_keep_first_3_and_last_4_of_the_id(number in certificate()) {
        let id = number.resident_id().as_str();
        let masked = number.resident_id().masked();
        prop_assert_eq!(masked.len(), 18);
        prop_assert_eq!(&masked[..3], &id[..3]);
        prop_assert_eq!(&masked[3..14], "***********");
        prop_assert_eq!(&masked[14..], &id[14..]);
        // Category, grade and any replacement suffix are hidden as well.
        prop_assert_eq!(number.masked(), format!("{masked}**"));
    }

    #[test]
    fn phone_masks_keep_first_3_and_last_4(second in 3..=9u8, rest in "[0-9]{9}") {
        let number = format!("1{second}{rest}");
        let phone = Phone::parse(&number).unwrap();
        let masked = phone.masked();
        prop_assert_eq!(&masked[..3], &number[..3]);
        prop_assert_eq!(&masked[3..7], "****");
        prop_assert_eq!(&masked[7..], &number[7..]);
        prop_assert_eq!(Phone::parse(&format!("+86 {number}")).unwrap(), phone);
    }
}
