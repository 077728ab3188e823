//! The photos the registrant uploads, made by the test: a JPEG of noise over 4 MB (noise does
//! not compress, so the page must really shrink it) and a PNG whose background is fully
//! transparent black (RGBA 0,0,0,0) around an opaque blue square, the case where a careless
//! canvas → JPEG conversion turns the background black.

use std::path::Path;

/// Width and height of the noise JPEG: 6 megapixels of noise at quality 95 is well over 4 MB.
const NOISE: (u16, u16) = (3000, 2000);

/// Writes the noise JPEG to `path` and returns its bytes.
pub fn noise_jpeg(path: &Path) -> Vec<u8> {
    let (w, h) = NOISE;
    let mut state = 0x2545_F491_4F6C_DD1Du64;
    let pixels: Vec<u8> = (0..usize::from(w) * usize::from(h) * 3)
        .map(|_| {
            // xorshift64: cheap, deterministic noise
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            (state >> 24) as u8
        })
        .collect();
    let mut out = Vec::new();
    jpeg_encoder::Encoder::new(&mut out, 95)
        .encode(&pixels, w, h, jpeg_encoder::ColorType::Rgb)
        .unwrap();
    std::fs::write(path, &out).unwrap();
    out
}

/// Writes the transparent PNG (600×400, a 200×200 blue square in the middle) to `path`.
pub fn transparent_png(path: &Path) -> Vec<u8> {
    let (w, h) = (600u32, 400u32);
    let mut rgba = vec![0u8; (w * h * 4) as usize];
    for y in 100..300 {
        for x in 200..400 {
            let i = ((y * w + x) * 4) as usize;
            rgba[i..i + 4].copy_from_slice(&[20, 60, 200, 255]);
        }
    }
    let mut out = Vec::new();
    {
        let mut encoder = png::Encoder::new(&mut out, w, h);
        encoder.set_color(png::ColorType::Rgba);
        encoder.set_depth(png::BitDepth::Eight);
        let mut writer = encoder.write_header().unwrap();
        writer.write_image_data(&rgba).unwrap();
    }
    std::fs::write(path, &out).unwrap();
    out
}
