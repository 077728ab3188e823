//! A QR code as inline SVG: the registration URL for the admin's QRコード生成 page and the phone's page
//! that points a desktop browser at the phone, and the トークン認証 setup key. Inline, so no image request
//! (and no server log line of one) ever carries the token or the key.

/// The registration URL as an SVG QR code (inline, so no image request carries the token).
pub(super) fn svg(text: &str) -> Option<String> {
    let code = qrcode::QrCode::with_error_correction_level(text, qrcode::EcLevel::M).ok()?;
    Some(
        code.render::<qrcode::render::svg::Color<'_>>()
            .min_dimensions(240, 240)
            .quiet_zone(true)
            .build(),
    )
}
