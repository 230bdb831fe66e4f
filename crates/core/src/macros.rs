//! Macros that stamp out the repetitive trait impls shared by the domain types.

/// Serialize through `Display` and deserialize through `FromStr`, so serde can never
/// produce a value the parser would reject.
#[macro_export]
macro_rules! serde_via_str {
    ($ty:ty) => {
        impl ::serde::Serialize for $ty {
            fn serialize<S: ::serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
                serializer.collect_str(self)
            }
        }

        impl<'de> ::serde::Deserialize<'de> for $ty {
            fn deserialize<D: ::serde::Deserializer<'de>>(
                deserializer: D,
            ) -> Result<Self, D::Error> {
                let text = String::deserialize(deserializer)?;
                text.parse().map_err(::serde::de::Error::custom)
            }
        }
    };
}

/// `Display`, `FromStr` and serde for a type with `parse(&str) -> Result<Self, E>` and `as_str()`.
macro_rules! string_type {
    ($ty:ty, $err:ty) => {
        impl ::std::fmt::Display for $ty {
            fn fmt(&self, f: &mut ::std::fmt::Formatter<'_>) -> ::std::fmt::Result {
                f.pad(self.as_str())
            }
        }

        impl ::std::str::FromStr for $ty {
            type Err = $err;

            fn from_str(s: &str) -> Result<Self, Self::Err> {
                Self::parse(s)
            }
        }

        serde_via_str!($ty);
    };
}

/// Inherent `message(lang)` plus the [`crate::Localized`] impl for an error type that has
/// an English `Display` and a private `fn zh(&self) -> String`.
#[macro_export]
macro_rules! localized {
    ($ty:ty) => {
        impl $ty {
            /// The rule that was broken, in `lang`.
            pub fn message(&self, lang: $crate::Lang) -> String {
                match lang {
                    $crate::Lang::Zh => self.zh(),
                    $crate::Lang::En => self.to_string(),
                }
            }
        }

        impl $crate::Localized for $ty {
            fn message(&self, lang: $crate::Lang) -> String {
                <$ty>::message(self, lang)
            }
        }
    };
}

/// A closed vocabulary: a fieldless enum with a stable slug (storage, URLs, serde) and
/// Chinese and English display names. `FromStr` accepts the slug, either name, and the
/// listed aliases; it fails with [`crate::UnknownValue`].
#[macro_export]
macro_rules! vocabulary {
    (
        $(#[$meta:meta])*
        pub enum $name:ident ($field_en:literal, $field_zh:literal) {
            $(
                $(#[$vmeta:meta])*
                $variant:ident $(= $code:literal)? => ($slug:literal, $zh:literal, $en:literal),
            )+
        }
        $(aliases { $($alias:literal => $target:ident),* $(,)? })?
    ) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub enum $name {
            $( $(#[$vmeta])* $variant $(= $code)?, )+
        }

        impl $name {
            /// Every value, in declaration order.
            pub const ALL: [Self; [$($slug),+].len()] = [$(Self::$variant),+];

            /// Stable machine name, used in storage, URLs and serde.
            pub const fn slug(self) -> &'static str {
                match self {
                    $(Self::$variant => $slug,)+
                }
            }

            /// Same as [`Self::slug`].
            pub const fn as_str(&self) -> &'static str {
                self.slug()
            }

            /// The value whose slug is exactly `slug`.
            pub fn from_slug(slug: &str) -> Option<Self> {
                Self::ALL.into_iter().find(|value| value.slug() == slug)
            }

            /// Human-readable name.
            pub const fn name(self, lang: $crate::Lang) -> &'static str {
                match (self, lang) {
                    $(
                        (Self::$variant, $crate::Lang::Zh) => $zh,
                        (Self::$variant, $crate::Lang::En) => $en,
                    )+
                }
            }
        }

        impl ::std::fmt::Display for $name {
            fn fmt(&self, f: &mut ::std::fmt::Formatter<'_>) -> ::std::fmt::Result {
                f.pad(self.slug())
            }
        }

        impl ::std::str::FromStr for $name {
            type Err = $crate::UnknownValue;

            fn from_str(s: &str) -> Result<Self, Self::Err> {
                const ALIASES: &[(&str, $name)] = &[$($(($alias, $name::$target)),*)?];
                let s = s.trim();
                Self::ALL
                    .into_iter()
                    .find(|value| {
                        value.slug().eq_ignore_ascii_case(s)
                            || value.name($crate::Lang::Zh) == s
                            || value.name($crate::Lang::En).eq_ignore_ascii_case(s)
                    })
                    .or_else(|| ALIASES.iter().find(|(alias, _)| *alias == s).map(|&(_, value)| value))
                    .ok_or_else(|| {
                        $crate::UnknownValue::new($field_en, $field_zh, s, &[$(($slug, $zh)),+])
                    })
            }
        }

        $crate::serde_via_str!($name);
    };
}
