//! Deterministic synthetic data: the demo district's divisions and plausible registered persons.
//!
//! Shares follow China's 2006 second national sample survey on disability where it gives them;
//! every draw comes from one ChaCha8 stream, so a `(count, seed)` pair always yields the same
//! persons.

use std::path::Path;

use rand::distr::Distribution;
use rand::distr::weighted::WeightedIndex;
use rand::seq::IndexedRandom;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use time::macros::date;
use time::{Date, Duration};
use zhucan_core::{
    Category, CertificateNo, CertificateStatus, DivisionCode, Grade, HouseholdStatus, Lang,
    LifeStatus, MultipleComponents, PersonName, Phone, ResidentId,
};
use zhucan_store::{
    Actor, CertificateInput, Division, GuardianInput, PersonInput, PersonRow, Store,
};

use crate::columns::{Column, person_cells};
use crate::table::{TableFormat, TableWriter, WriteError};

/// "Today" for generated data, so that output does not change with the calendar.
const REFERENCE_DATE: Date = date!(2026 - 01 - 01);
/// Birth dates reach back this many days (ages 0-95).
const BIRTH_DAYS: i64 = 96 * 365;
/// Sequence numbers per birth date and address code in a resident ID.
const SEQUENCES: usize = 1000;
/// The most persons [`Generator`] can give unique resident IDs.
pub const MAX_PERSONS: usize = SEQUENCES * BIRTH_DAYS as usize;

/// Longquanyi's streets and towns and the province and city above them.
const REFERENCE_DIVISIONS: &str = include_str!("../data/divisions.csv");

/// Name stems of generated communities and villages, ten for each street or town.
const STEMS: [&str; 100] = [
    "驿都", "长柏", "龙泉", "阳光", "桃源", "幸福", "和平", "建设", "新华", "文化", "永安", "金桃",
    "玉石", "红花", "宝狮", "黎明", "长安", "明月", "书房", "双槐", "梨花", "五星", "太平", "万兴",
    "高山", "石盘", "清泉", "柏杨", "同心", "东风", "西林", "南苑", "北城", "星光", "朝阳", "翠柏",
    "锦绣", "平安", "福寿", "兴隆", "光华", "金龙", "青松", "怡和", "春晖", "秋实", "丰收", "友谊",
    "团结", "胜利", "红星", "东升", "卧龙", "凤凰", "白鹤", "桂花", "芙蓉", "樱桃", "枇杷", "梧桐",
    "杏林", "桑园", "荷塘", "柳溪", "清水", "石桥", "花园", "果园", "新村", "长乐", "安康", "瑞祥",
    "吉祥", "嘉禾", "天鹅", "大兴", "小河", "洪福", "宝胜", "龙华", "洛水", "客家", "山泉", "映山",
    "三角", "百工", "十里", "万安", "正兴", "天平", "双林", "新民", "永兴", "金星", "银杏", "云台",
    "顺江", "望月", "观音", "回龙",
];
const COMMUNITIES_PER_STREET: usize = 10;

/// Relative population of each street and town, in the order of `data/divisions.csv`.
const STREET_WEIGHTS: [u32; 10] = [16, 12, 10, 9, 9, 10, 8, 10, 8, 8];

/// Where residents' IDs were issued: mostly the district, some elsewhere in Sichuan, a few in
/// other provinces.
const ADDRESS_CODES: &[(&str, u32)] = &[
    ("510112", 880),
    ("510104", 12),
    ("510106", 10),
    ("510107", 10),
    ("510108", 8),
    ("510113", 8),
    ("510116", 8),
    ("510121", 12),
    ("510124", 10),
    ("511002", 6),
    ("511302", 6),
    ("500101", 6),
    ("500112", 6),
    ("110105", 3),
    ("440305", 3),
    ("530102", 4),
    ("610113", 4),
    ("420106", 4),
];

/// Age bands (inclusive) weighted toward old age, as disability prevalence is.
const AGE_BANDS: &[((i64, i64), u32)] = &[
    ((0, 17), 4),
    ((18, 44), 14),
    ((45, 59), 24),
    ((60, 79), 40),
    ((80, 95), 18),
];

const CATEGORIES: &[(Category, u32)] = &[
    (Category::Physical, 30),
    (Category::Hearing, 24),
    (Category::Multiple, 16),
    (Category::Visual, 14),
    (Category::Psychosocial, 7),
    (Category::Intellectual, 7),
    (Category::Speech, 2),
];

const GRADES: &[(Grade, u32)] = &[
    (Grade::One, 15),
    (Grade::Two, 25),
    (Grade::Three, 30),
    (Grade::Four, 30),
];

const HOUSEHOLD: &[(HouseholdStatus, u32)] = &[
    (HouseholdStatus::None, 78),
    (HouseholdStatus::Dibao, 12),
    (HouseholdStatus::DibaoEdge, 4),
    (HouseholdStatus::Tekun, 2),
    (HouseholdStatus::LowIncome, 4),
];

const LIFE: &[(LifeStatus, u32)] = &[
    (LifeStatus::Alive, 975),
    (LifeStatus::Deceased, 20),
    (LifeStatus::MovedOut, 5),
];

const ETHNICITIES: &[(&str, u32)] = &[
    ("汉族", 970),
    ("彝族", 12),
    ("藏族", 10),
    ("回族", 5),
    ("羌族", 3),
];

/// In rough order of frequency; weighted by rank.
const SURNAMES: &[&str] = &[
    "王", "李", "张", "刘", "陈", "杨", "黄", "赵", "吴", "周", "徐", "孙", "马", "朱", "胡", "郭",
    "何", "林", "罗", "高", "郑", "梁", "谢", "宋", "唐", "许", "韩", "邓", "冯", "曹", "彭", "曾",
    "萧", "田", "董", "潘", "袁", "蔡", "蒋", "余", "于", "杜", "叶", "程", "魏", "苏", "吕", "丁",
    "任", "卢", "姚", "沈", "钟", "姜", "崔", "谭", "陆", "范", "汪", "廖", "石", "金", "韦", "贾",
    "夏", "付", "方", "邹", "熊", "白", "孟", "秦", "邱", "侯", "江", "尹", "薛", "闫", "段", "雷",
    "龙", "黎", "史", "陶", "贺", "毛", "郝", "顾", "龚", "邵", "万", "武", "钱", "戴", "严", "莫",
];
const MALE_GIVEN: &[&str] = &[
    "伟", "强", "军", "勇", "杰", "涛", "明", "超", "刚", "平", "辉", "华", "建", "国", "峰", "磊",
    "斌", "波", "鹏", "俊", "文", "东", "林", "志", "海", "宇", "浩", "凯", "龙", "洪", "兵", "成",
    "德", "福", "贵", "富", "荣", "祥", "云", "飞",
];
const FEMALE_GIVEN: &[&str] = &[
    "芳", "娟", "敏", "静", "丽", "艳", "秀", "英", "霞", "燕", "玲", "桂", "珍", "红", "梅", "琴",
    "兰", "凤", "洁", "婷", "雪", "慧", "莉", "萍", "琳", "倩", "颖", "佳", "欣", "怡", "蓉", "淑",
    "华", "玉", "春", "晓",
];

const MOBILE_PREFIXES: &[&str] = &[
    "130", "131", "132", "133", "135", "136", "137", "138", "139", "150", "151", "152", "153",
    "155", "156", "157", "158", "159", "166", "173", "177", "180", "181", "182", "183", "185",
    "186", "187", "188", "189", "199",
];

const CHILD_GUARDIANS: &[(&str, u32)] = &[("母亲", 50), ("父亲", 45), ("其他亲属", 5)];
const ADULT_GUARDIANS: &[(&str, u32)] =
    &[("母亲", 35), ("父亲", 25), ("配偶", 25), ("其他亲属", 15)];
const ELDER_GUARDIANS: &[(&str, u32)] = &[("子女", 60), ("配偶", 30), ("其他亲属", 10)];

/// The province, city, district, its streets and towns (from `data/divisions.csv`) and ten
/// generated communities (`…001`-`…010`) or villages (`…201`-`…210`) under each; parents come
/// before their children.
pub fn demo_divisions() -> Vec<Division> {
    let mut reader = csv::Reader::from_reader(REFERENCE_DIVISIONS.as_bytes());
    let mut divisions: Vec<Division> = reader
        .records()
        .map(|record| {
            let record = record.expect("data/divisions.csv is well-formed");
            let parent = &record[3];
            Division {
                code: record[0].to_owned(),
                name: record[1].to_owned(),
                level: record[2].to_owned(),
                parent: (!parent.is_empty()).then(|| parent.to_owned()),
            }
        })
        .collect();
    let communities: Vec<Division> = divisions
        .iter()
        .filter(|d| matches!(d.level.as_str(), "street" | "town"))
        .enumerate()
        .flat_map(|(i, parent)| {
            let (first, suffix, level) = if parent.level == "town" {
                (201, "村", "village")
            } else {
                (1, "社区", "community")
            };
            (0..COMMUNITIES_PER_STREET).map(move |j| Division {
                code: format!("{}{:03}", parent.code, first + j),
                name: format!("{}{suffix}", STEMS[i * COMMUNITIES_PER_STREET + j]),
                level: level.to_owned(),
                parent: Some(parent.code.clone()),
            })
        })
        .collect();
    divisions.extend(communities);
    divisions
}

/// A weighted choice among a fixed set of values.
struct Weighted<T: 'static> {
    values: &'static [(T, u32)],
    index: WeightedIndex<u32>,
}

impl<T> Weighted<T> {
    fn new(values: &'static [(T, u32)]) -> Self {
        let index = WeightedIndex::new(values.iter().map(|&(_, w)| w))
            .expect("weight tables are non-empty with positive weights");
        Weighted { values, index }
    }

    fn pick(&self, rng: &mut ChaCha8Rng) -> &'static T {
        &self.values[self.index.sample(rng)].0
    }
}

/// A community or village persons can be registered in.
struct Place {
    code: DivisionCode,
    /// Address up to the community, e.g. `龙泉驿区龙泉街道驿都社区`.
    address: String,
    village: bool,
}

/// Generates `count` persons from `seed`; see [`persons`].
pub struct Generator {
    rng: ChaCha8Rng,
    next: usize,
    count: usize,
    /// Persons sharing a sequence number get birth dates in distinct residue classes modulo
    /// this many days, which keeps every resident ID unique (see `birth_date`).
    stride: i64,
    places: Vec<Place>,
    place_index: WeightedIndex<u32>,
    address_codes: Weighted<&'static str>,
    age_bands: Weighted<(i64, i64)>,
    categories: Weighted<Category>,
    grades: Weighted<Grade>,
    household: Weighted<HouseholdStatus>,
    life: Weighted<LifeStatus>,
    ethnicities: Weighted<&'static str>,
    surnames: WeightedIndex<u32>,
    child_guardians: Weighted<&'static str>,
    adult_guardians: Weighted<&'static str>,
    elder_guardians: Weighted<&'static str>,
}

/// `count` persons with valid, unique resident IDs; the same `(count, seed)` always gives the
/// same persons.
///
/// # Panics
///
/// If `count` exceeds [`MAX_PERSONS`].
pub fn persons(count: usize, seed: u64) -> Generator {
    Generator::new(count, seed)
}

impl Generator {
    /// # Panics
    ///
    /// If `count` exceeds [`MAX_PERSONS`].
    pub fn new(count: usize, seed: u64) -> Generator {
        assert!(
            count <= MAX_PERSONS,
            "at most {MAX_PERSONS} persons can have unique generated IDs"
        );
        let divisions = demo_divisions();
        let name_of = |code: &str| {
            divisions
                .iter()
                .find(|d| d.code == code)
                .map_or("", |d| d.name.as_str())
        };
        let district = name_of("510112");
        let mut places = Vec::new();
        let mut weights = Vec::new();
        for d in divisions
            .iter()
            .filter(|d| matches!(d.level.as_str(), "community" | "village"))
        {
            let street = d.parent.as_deref().unwrap_or_default();
            let street_index = divisions
                .iter()
                .filter(|d| matches!(d.level.as_str(), "street" | "town"))
                .position(|s| s.code == street)
                .expect("every community's parent is a street or town");
            weights.push(STREET_WEIGHTS[street_index]);
            places.push(Place {
                code: DivisionCode::parse(&d.code).expect("generated codes are valid"),
                address: format!("{district}{}{}", name_of(street), d.name),
                village: d.level == "village",
            });
        }
        Generator {
            rng: ChaCha8Rng::seed_from_u64(seed),
            next: 0,
            count,
            stride: i64::try_from(count.div_ceil(SEQUENCES).max(1)).unwrap_or(i64::MAX),
            places,
            place_index: WeightedIndex::new(weights).expect("street weights are positive"),
            address_codes: Weighted::new(ADDRESS_CODES),
            age_bands: Weighted::new(AGE_BANDS),
            categories: Weighted::new(CATEGORIES),
            grades: Weighted::new(GRADES),
            household: Weighted::new(HOUSEHOLD),
            life: Weighted::new(LIFE),
            ethnicities: Weighted::new(ETHNICITIES),
            // Zipf-like: the commonest surnames are several times as frequent as the rarest.
            surnames: WeightedIndex::new((0..SURNAMES.len()).map(|rank| 1000 / (rank as u32 + 4)))
                .expect("surname weights are positive"),
            child_guardians: Weighted::new(CHILD_GUARDIANS),
            adult_guardians: Weighted::new(ADULT_GUARDIANS),
            elder_guardians: Weighted::new(ELDER_GUARDIANS),
        }
    }

    /// A birth date for person `index`: an age drawn from the bands, then moved by less than
    /// `stride` days into the residue class `index / SEQUENCES`. Persons that share a sequence
    /// number (`index % SEQUENCES`) thus never share a birth date.
    fn birth_date(&mut self, index: usize) -> Date {
        let &(youngest, oldest) = self.age_bands.pick(&mut self.rng);
        let age = self.rng.random_range(youngest..=oldest);
        let days = age * 365 + self.rng.random_range(0..365);
        let class = i64::try_from(index / SEQUENCES).unwrap_or_default();
        let mut snapped = days - days.rem_euclid(self.stride) + class;
        if snapped >= BIRTH_DAYS {
            snapped -= self.stride;
        }
        REFERENCE_DATE - Duration::days(snapped + 1)
    }

    fn name(&mut self, surname: Option<&str>, male: bool) -> PersonName {
        let surname = surname.unwrap_or_else(|| SURNAMES[self.surnames.sample(&mut self.rng)]);
        let given = if male { MALE_GIVEN } else { FEMALE_GIVEN };
        let length = if self.rng.random_ratio(3, 10) { 1 } else { 2 };
        let mut name = surname.to_owned();
        for _ in 0..length {
            name.push_str(given.choose(&mut self.rng).expect("non-empty"));
        }
        PersonName::parse(&name).expect("generated names are valid")
    }

    fn phone(&mut self) -> Phone {
        let prefix = MOBILE_PREFIXES.choose(&mut self.rng).expect("non-empty");
        let number = format!("{prefix}{:08}", self.rng.random_range(0..100_000_000));
        Phone::parse(&number).expect("generated phones are valid")
    }

    fn certificate(&mut self, resident_id: &ResidentId) -> CertificateInput {
        let category = *self.categories.pick(&mut self.rng);
        let grade = *self.grades.pick(&mut self.rng);
        let components = (category == Category::Multiple).then(|| {
            let singles: Vec<Category> = Category::ALL
                .into_iter()
                .filter(|&c| c != Category::Multiple)
                .collect();
            let amount = self.rng.random_range(2..=3);
            MultipleComponents::new(singles.choose_multiple(&mut self.rng, amount).copied())
                .expect("2-3 distinct single categories")
        });
        let lived = (REFERENCE_DATE - resident_id.birth_date()).whole_days();
        // About one in 25 did not renew after ten years: their certificate has expired.
        let issued_days_ago = if lived > 11 * 365 && self.rng.random_ratio(1, 25) {
            self.rng.random_range(3653..11 * 365)
        } else {
            self.rng.random_range(0..lived.min(3652))
        };
        let issued_on = REFERENCE_DATE - Duration::days(issued_days_ago);
        let expires_on = add_years(issued_on, 10);
        CertificateInput {
            number: CertificateNo::new(resident_id.clone(), category, grade),
            components,
            issued_on: Some(issued_on),
            expires_on: Some(expires_on),
            status: if expires_on < REFERENCE_DATE {
                CertificateStatus::Expired
            } else {
                CertificateStatus::Valid
            },
        }
    }

    fn guardian(&mut self, age: u32, surname: &str, male: bool) -> GuardianInput {
        let relations = match age {
            0..18 => &self.child_guardians,
            18..60 => &self.adult_guardians,
            _ => &self.elder_guardians,
        };
        let relation = *relations.pick(&mut self.rng);
        let (same_surname, guardian_male) = match relation {
            "父亲" => (true, true),
            "母亲" => (false, false),
            "配偶" => (false, !male),
            "子女" => (true, self.rng.random_bool(0.5)),
            _ => (false, self.rng.random_bool(0.5)),
        };
        let name = self.name(same_surname.then_some(surname), guardian_male);
        GuardianInput {
            name,
            relation: relation.to_owned(),
            phone: self.rng.random_bool(0.95).then(|| self.phone()),
        }
    }

    fn address(&mut self, place: usize) -> String {
        let place = &self.places[place];
        let rng = &mut self.rng;
        if place.village {
            format!(
                "{}{}组{}号",
                place.address,
                rng.random_range(1..=12),
                rng.random_range(1..=80)
            )
        } else {
            format!(
                "{}{}栋{}单元{}{:02}",
                place.address,
                rng.random_range(1..=30),
                rng.random_range(1..=4),
                rng.random_range(1..=18),
                rng.random_range(1..=4)
            )
        }
    }

    fn person(&mut self, index: usize) -> PersonInput {
        let address_code = *self.address_codes.pick(&mut self.rng);
        let birth = self.birth_date(index);
        let sequence = u16::try_from(index % SEQUENCES).expect("below 1000");
        let resident_id = ResidentId::from_parts(address_code, birth, sequence)
            .expect("generated ID parts are valid");
        let male = sequence % 2 == 1;
        let name = self.name(None, male);
        let surname: String = name.as_str().chars().take(1).collect();
        let certificate = self.certificate(&resident_id);
        let age = resident_id.age_on(REFERENCE_DATE);
        let needs_guardian = age < 18
            || (matches!(
                certificate.number.category(),
                Category::Intellectual | Category::Psychosocial
            ) && certificate.number.grade() <= Grade::Two);
        let place = self.place_index.sample(&mut self.rng);
        PersonInput {
            name,
            ethnicity: Some((*self.ethnicities.pick(&mut self.rng)).to_owned()),
            phone: self.rng.random_bool(0.85).then(|| self.phone()),
            division_code: self.places[place].code.clone(),
            residence_code: None,
            address: Some(self.address(place)),
            household_status: *self.household.pick(&mut self.rng),
            life_status: *self.life.pick(&mut self.rng),
            guardian: needs_guardian.then(|| self.guardian(age, &surname, male)),
            certificate: Some(certificate),
            resident_id,
        }
    }
}

impl Iterator for Generator {
    type Item = PersonInput;

    fn next(&mut self) -> Option<PersonInput> {
        if self.next >= self.count {
            return None;
        }
        let person = self.person(self.next);
        self.next += 1;
        Some(person)
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        let left = self.count - self.next;
        (left, Some(left))
    }
}

impl ExactSizeIterator for Generator {}

/// The same day `years` later; 29 February becomes 28 February in a common year.
fn add_years(date: Date, years: i32) -> Date {
    let year = date.year() + years;
    date.replace_year(year)
        .or_else(|_| date.replace_day(28).and_then(|d| d.replace_year(year)))
        .expect("28 February exists in every year")
}

/// Writes `count` generated persons to a CSV file in the import format (UTF-8 with BOM,
/// English headers), streaming; returns the number of rows.
pub fn write_persons_csv(path: &Path, count: usize, seed: u64) -> Result<u64, WriteError> {
    let headers = Column::ALL.map(Column::header);
    let widths = Column::ALL.map(Column::width);
    let mut table = TableWriter::create(path, TableFormat::Csv, &headers, &widths)?;
    let mut rows = 0;
    for person in persons(count, seed) {
        table.write_row(person_cells(&person, false, Lang::En))?;
        rows += 1;
    }
    table.finish()?.commit()?;
    Ok(rows)
}

/// Persons per `import_persons` call while seeding: one transaction each.
const SEED_CHUNK: usize = 2000;

/// Loads the demo divisions and `count` generated persons into `store` (inserting new and
/// updating changed persons); returns the number of persons written.
pub async fn seed_demo(store: &Store, count: usize, seed: u64) -> zhucan_store::Result<u64> {
    store.upsert_divisions(&demo_divisions()).await?;
    let actor = Actor::system("seed");
    let mut rows = persons(count, seed)
        .zip(1..)
        .map(|(input, line)| PersonRow { line, input });
    let mut written = 0;
    loop {
        let chunk: Vec<PersonRow> = rows.by_ref().take(SEED_CHUNK).collect();
        if chunk.is_empty() {
            return Ok(written);
        }
        let outcome = store.import_persons(&actor, chunk).await?;
        written += outcome.inserted + outcome.updated;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn divisions_are_complete_and_ordered() {
        let divisions = demo_divisions();
        assert_eq!(divisions.len(), 3 + 10 + 100);
        let streets = divisions
            .iter()
            .filter(|d| matches!(d.level.as_str(), "street" | "town"))
            .count();
        assert_eq!(streets * COMMUNITIES_PER_STREET, STEMS.len());
        assert_eq!(streets, STREET_WEIGHTS.len());
        for (i, d) in divisions.iter().enumerate() {
            if let Some(parent) = &d.parent {
                assert!(
                    divisions[..i].iter().any(|p| &p.code == parent),
                    "{} before its parent",
                    d.code
                );
            }
        }
        let longquan: Vec<_> = divisions
            .iter()
            .filter(|d| d.parent.as_deref() == Some("510112001"))
            .map(|d| (d.code.as_str(), d.name.as_str()))
            .collect();
        assert_eq!(longquan[0], ("510112001001", "驿都社区"));
        assert_eq!(longquan[9].0, "510112001010");
        let luodai = divisions.iter().find(|d| d.code == "510112102201").unwrap();
        assert_eq!(luodai.level, "village");
        assert!(luodai.name.ends_with('村'));
    }

    #[test]
    fn birth_dates_keep_ids_unique_at_the_capacity_edge() {
        // With a large stride the snapped day must still stay inside the range.
        let mut generator = Generator::new(MAX_PERSONS, 1);
        for index in [0, SEQUENCES, MAX_PERSONS - 1] {
            let birth = generator.birth_date(index);
            assert!(birth < REFERENCE_DATE);
            assert!(birth >= REFERENCE_DATE - Duration::days(BIRTH_DAYS));
        }
    }

    #[test]
    fn leap_day_certificates_expire_on_28_february() {
        assert_eq!(add_years(date!(2024 - 02 - 29), 10), date!(2034 - 02 - 28));
        assert_eq!(add_years(date!(2024 - 03 - 01), 10), date!(2034 - 03 - 01));
    }
}
