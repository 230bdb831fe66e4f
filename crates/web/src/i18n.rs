//! Chinese first, English on request: templates hold both texts side by side and `Tr` picks
//! one, so no string can go missing from a translation table.

use zhucan_core::Lang;

#[derive(Debug, Clone, Copy)]
pub struct Tr {
    pub lang: Lang,
}

impl Tr {
    pub fn z<'a>(&self, zh: &'a str, en: &'a str) -> &'a str {
        match self.lang {
            Lang::Zh => zh,
            Lang::En => en,
        }
    }

    /// By value: templates pass fields by reference, but method results as they are.
    pub fn lang(&self) -> Lang {
        self.lang
    }

    pub fn is_zh(&self) -> bool {
        self.lang == Lang::Zh
    }
}
