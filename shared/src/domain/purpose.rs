//! Usage purposes (利用目的) an employer declares for an individual number.
//!
//! Limits: the fixed list of nine purposes offered by the product, in display
//! order. Whether a purpose is legally adequate for a given person is not
//! judged here.

/// A declared usage purpose.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Purpose {
    SalaryWithholding,
    EmploymentInsurance,
    HealthAndPensionInsurance,
    WorkersCompensation,
    NationalPensionCategory3,
    AssetFormationSavings,
    StockDividendPaymentRecord,
    RealEstatePaymentRecord,
    ContractorPaymentRecord,
}

impl Purpose {
    /// Every purpose, in display order.
    pub const ALL: [Purpose; 9] = [
        Purpose::SalaryWithholding,
        Purpose::EmploymentInsurance,
        Purpose::HealthAndPensionInsurance,
        Purpose::WorkersCompensation,
        Purpose::NationalPensionCategory3,
        Purpose::AssetFormationSavings,
        Purpose::StockDividendPaymentRecord,
        Purpose::RealEstatePaymentRecord,
        Purpose::ContractorPaymentRecord,
    ];

    /// Japanese label shown to users.
    pub fn label(self) -> &'static str {
        match self {
            Purpose::SalaryWithholding => "給与所得・退職所得の源泉徴収票作成事務",
            Purpose::EmploymentInsurance => "雇用保険届出事務",
            Purpose::HealthAndPensionInsurance => "健康保険・厚生年金保険届出事務",
            Purpose::WorkersCompensation => "労働者災害補償保険法に基づく請求に関する事務",
            Purpose::NationalPensionCategory3 => "国民年金の第3号被保険者の届出事務",
            Purpose::AssetFormationSavings => "財産形成住宅貯蓄・財産形成年金貯蓄に関する事務",
            Purpose::StockDividendPaymentRecord => "株式・配当に関する支払調書作成事務",
            Purpose::RealEstatePaymentRecord => "不動産に関する支払調書作成事務",
            Purpose::ContractorPaymentRecord => {
                "外注先・業務委託者に関する源泉徴収票・支払調書作成事務"
            }
        }
    }

    /// Stable storage code.
    pub fn code(self) -> &'static str {
        match self {
            Purpose::SalaryWithholding => "salary_withholding",
            Purpose::EmploymentInsurance => "employment_insurance",
            Purpose::HealthAndPensionInsurance => "health_pension_insurance",
            Purpose::WorkersCompensation => "workers_compensation",
            Purpose::NationalPensionCategory3 => "national_pension_category3",
            Purpose::AssetFormationSavings => "asset_formation_savings",
            Purpose::StockDividendPaymentRecord => "stock_dividend_payment_record",
            Purpose::RealEstatePaymentRecord => "real_estate_payment_record",
            Purpose::ContractorPaymentRecord => "contractor_payment_record",
        }
    }

    /// Inverse of [`Purpose::code`].
    pub fn from_code(code: &str) -> Option<Purpose> {
        Purpose::ALL.into_iter().find(|p| p.code() == code)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn label_matches_manual_when_in_display_order() {
        let expected = [
            "給与所得・退職所得の源泉徴収票作成事務",
            "雇用保険届出事務",
            "健康保険・厚生年金保険届出事務",
            "労働者災害補償保険法に基づく請求に関する事務",
            "国民年金の第3号被保険者の届出事務",
            "財産形成住宅貯蓄・財産形成年金貯蓄に関する事務",
            "株式・配当に関する支払調書作成事務",
            "不動産に関する支払調書作成事務",
            "外注先・業務委託者に関する源泉徴収票・支払調書作成事務",
        ];
        let labels: Vec<_> = Purpose::ALL.iter().map(|p| p.label()).collect();
        assert_eq!(labels, expected);
    }

    #[test]
    fn from_code_round_trips_when_each_purpose() {
        for purpose in Purpose::ALL {
            assert_eq!(Purpose::from_code(purpose.code()), Some(purpose));
        }
        assert_eq!(Purpose::from_code("unknown"), None);
    }

    #[test]
    fn code_is_unique_snake_case_when_each_purpose() {
        let mut codes: Vec<_> = Purpose::ALL.iter().map(|p| p.code()).collect();
        for code in &codes {
            assert!(code
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_'));
        }
        codes.sort_unstable();
        codes.dedup();
        assert_eq!(codes.len(), Purpose::ALL.len());
    }
}
