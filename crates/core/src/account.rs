//! Staff accounts: roles with their capabilities, usernames and the password policy.

const USERNAME_MIN: usize = 3;
const USERNAME_MAX: usize = 32;
const PASSWORD_MIN: usize = 8;
const PASSWORD_CLASSES: usize = 3;

vocabulary! {
    /// What a staff account may do.
    pub enum Role("role", "角色") {
        Admin => ("admin", "系统管理员", "Administrator"),
        DistrictReviewer => ("district_reviewer", "区残联审核员", "District reviewer"),
        StreetReviewer => ("street_reviewer", "街道审核员", "Street reviewer"),
        CommunityWorker => ("community_worker", "社区专职委员", "Community worker"),
        Provider => ("provider", "服务机构", "Service provider"),
        Partner => ("partner", "合作部门", "Partner department"),
    }
    aliases {}
}

impl Role {
    /// Federation staff, who keep the registry.
    const fn is_federation_staff(self) -> bool {
        matches!(
            self,
            Self::Admin | Self::DistrictReviewer | Self::StreetReviewer | Self::CommunityWorker
        )
    }

    pub const fn can_edit_registry(self) -> bool {
        self.is_federation_staff()
    }

    pub const fn can_view_registry(self) -> bool {
        self.is_federation_staff()
    }

    pub const fn can_export_unmasked(self) -> bool {
        matches!(self, Self::Admin | Self::DistrictReviewer)
    }

    pub const fn can_import(self) -> bool {
        self.is_federation_staff()
    }

    pub const fn can_manage_accounts(self) -> bool {
        matches!(self, Self::Admin)
    }

    pub const fn can_see_outbox(self) -> bool {
        matches!(self, Self::Admin)
    }

    pub const fn can_view_audit(self) -> bool {
        matches!(self, Self::Admin)
    }
}

/// Why a username was rejected.
#[derive(Debug, Clone, PartialEq, Eq, Hash, thiserror::Error)]
pub enum UsernameError {
    #[error("username is empty")]
    Empty,
    #[error("username must be 3-32 characters, found {found}")]
    Length { found: usize },
    #[error("username may contain only a-z, 0-9, _ . -, found {found:?}")]
    Character { found: char },
    #[error("username must start with a letter, found {found:?}")]
    Start { found: char },
}

impl UsernameError {
    fn zh(&self) -> String {
        match self {
            Self::Empty => "用户名不能为空".to_owned(),
            Self::Length { found } => format!("用户名应为 3-32 个字符，实为 {found} 个"),
            Self::Character { found } => {
                format!(
                    "用户名只能包含 a-z、0-9、_ . -，实有“{}”",
                    found.escape_debug()
                )
            }
            Self::Start { found } => format!("用户名应以字母开头，实为“{found}”"),
        }
    }
}

localized!(UsernameError);

/// A login name: lowercase ASCII letters, digits and `_ . -`, starting with a letter.
/// Input is lowercased so that `ZhangSan` and `zhangsan` are one account.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Username(String);

impl Username {
    pub fn parse(s: &str) -> Result<Username, UsernameError> {
        let name = s.trim().to_ascii_lowercase();
        let Some(first) = name.chars().next() else {
            return Err(UsernameError::Empty);
        };
        if let Some(found) = name
            .chars()
            .find(|c| !matches!(c, 'a'..='z' | '0'..='9' | '_' | '.' | '-'))
        {
            return Err(UsernameError::Character { found });
        }
        if !(USERNAME_MIN..=USERNAME_MAX).contains(&name.len()) {
            return Err(UsernameError::Length { found: name.len() });
        }
        if !first.is_ascii_lowercase() {
            return Err(UsernameError::Start { found: first });
        }
        Ok(Username(name))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

string_type!(Username, UsernameError);

/// Why a password fails the policy.
#[derive(Debug, Clone, PartialEq, Eq, Hash, thiserror::Error)]
pub enum PasswordError {
    #[error("password must be at least {min} characters, found {found}")]
    TooShort { min: usize, found: usize },
    #[error(
        "password must mix at least {required} of: lowercase letters, uppercase letters, digits, symbols; found {found}"
    )]
    TooFewClasses { required: usize, found: usize },
}

impl PasswordError {
    fn zh(&self) -> String {
        match self {
            Self::TooShort { min, found } => format!("密码至少 {min} 位，实为 {found} 位"),
            Self::TooFewClasses { required, found } => format!(
                "密码须包含小写字母、大写字母、数字、符号中的至少 {required} 类，实为 {found} 类"
            ),
        }
    }
}

localized!(PasswordError);

/// At least 8 characters mixing at least 3 of: lowercase, uppercase, digit, symbol
/// (anything else, including spaces and Chinese characters).
pub fn check_password_strength(password: &str) -> Result<(), PasswordError> {
    let found = password.chars().count();
    if found < PASSWORD_MIN {
        return Err(PasswordError::TooShort {
            min: PASSWORD_MIN,
            found,
        });
    }
    let has = |class: fn(&char) -> bool| password.chars().any(|c| class(&c));
    let found = [
        has(|c| c.is_lowercase()),
        has(|c| c.is_uppercase()),
        has(char::is_ascii_digit),
        has(|c| !c.is_lowercase() && !c.is_uppercase() && !c.is_ascii_digit()),
    ]
    .into_iter()
    .filter(|&present| present)
    .count();
    if found < PASSWORD_CLASSES {
        return Err(PasswordError::TooFewClasses {
            required: PASSWORD_CLASSES,
            found,
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Lang;

    #[test]
    fn role_capabilities() {
        use Role::*;
        let can = |check: fn(Role) -> bool| -> Vec<Role> {
            Role::ALL.into_iter().filter(|&r| check(r)).collect()
        };
        let staff = vec![Admin, DistrictReviewer, StreetReviewer, CommunityWorker];
        assert_eq!(can(Role::can_edit_registry), staff);
        assert_eq!(can(Role::can_view_registry), staff);
        assert_eq!(can(Role::can_import), staff);
        assert_eq!(
            can(Role::can_export_unmasked),
            vec![Admin, DistrictReviewer]
        );
        assert_eq!(can(Role::can_manage_accounts), vec![Admin]);
        assert_eq!(can(Role::can_see_outbox), vec![Admin]);
        assert_eq!(can(Role::can_view_audit), vec![Admin]);
    }

    #[test]
    fn role_vocabulary() {
        for role in Role::ALL {
            assert_eq!(role.slug().parse(), Ok(role));
            assert_eq!(role.name(Lang::Zh).parse(), Ok(role));
        }
        assert_eq!(Role::CommunityWorker.slug(), "community_worker");
        assert_eq!(Role::Partner.name(Lang::Zh), "合作部门");
        assert!("root".parse::<Role>().is_err());
    }

    #[test]
    fn usernames() {
        assert_eq!(Username::parse(" ZhangSan ").unwrap().as_str(), "zhangsan");
        assert_eq!(Username::parse("li.na-2_b").unwrap().as_str(), "li.na-2_b");
        assert_eq!(Username::parse(""), Err(UsernameError::Empty));
        assert_eq!(
            Username::parse("ab"),
            Err(UsernameError::Length { found: 2 })
        );
        assert_eq!(
            Username::parse(&"a".repeat(33)),
            Err(UsernameError::Length { found: 33 })
        );
        assert_eq!(
            Username::parse("2fast"),
            Err(UsernameError::Start { found: '2' })
        );
        assert_eq!(
            Username::parse("zhang san"),
            Err(UsernameError::Character { found: ' ' })
        );
        assert_eq!(
            Username::parse("张三三"),
            Err(UsernameError::Character { found: '张' })
        );
        assert_eq!(
            UsernameError::Start { found: '2' }.message(Lang::Zh),
            "用户名应以字母开头，实为“2”"
        );
    }

    #[test]
    fn password_policy() {
        assert_eq!(check_password_strength("Demo@2026"), Ok(()));
        assert_eq!(check_password_strength("demo2026!"), Ok(()));
        assert_eq!(check_password_strength("残联Demo2026"), Ok(()));
        assert_eq!(
            check_password_strength("De@2026"),
            Err(PasswordError::TooShort { min: 8, found: 7 })
        );
        assert_eq!(
            check_password_strength("demo2026"),
            Err(PasswordError::TooFewClasses {
                required: 3,
                found: 2
            })
        );
        assert_eq!(
            check_password_strength("password"),
            Err(PasswordError::TooFewClasses {
                required: 3,
                found: 1
            })
        );
        assert_eq!(
            PasswordError::TooShort { min: 8, found: 7 }.message(Lang::Zh),
            "密码至少 8 位，实为 7 位"
        );
    }
}
