//! The captcha's audio alternative (WCAG 1.1.1): the same code as a WAV, each digit a
//! group of short beeps to count, over background noise.
//!
//! Why beeps and not a voice: a voice needs recordings or a speech synthesizer, and both
//! would be a third-party asset or service. Counting beeps needs no language and no
//! learned code (a group of three beeps is a 3), and the codes use only the digits 2–9 so
//! no group is empty or long. People who can use neither the image nor the audio have
//! the help desk, named beside the captcha (`templates/_captcha.html`).

use rand::Rng;

/// Samples per second: telephone quality is plenty for beeps, and keeps the file small.
pub const SAMPLE_RATE: u32 = 8_000;
/// Silence before the first group, so the start is not missed.
pub const LEAD_MS: u32 = 600;
/// One beep and the gap after it.
pub const BEEP_MS: u32 = 140;
pub const GAP_MS: u32 = 160;
/// Between two groups: clearly longer than the gap between beeps.
pub const PAUSE_MS: u32 = 1_100;
/// After the last group.
pub const TAIL_MS: u32 = 600;
/// Each beep's pitch and loudness are drawn from these ranges, and it starts anywhere in
/// the first `JITTER_MS` of its slot, lasting `BEEP_MIN_MS` to `BEEP_MS`: a person still
/// counts beeps, while a program cannot match one fixed tone and rhythm. (A determined
/// program can still count loud bursts: the per-IP budget on the captcha routes and the
/// per-RUT limits are what stop one in bulk; docs/security.md.)
const TONE_HZ: std::ops::Range<f32> = 520.0..1_250.0;
const TONE_LEVEL: std::ops::Range<f32> = 0.42..0.62;
const BEEP_MIN_MS: u32 = 100;
const JITTER_MS: u32 = 40;
/// The noise stays far below the quietest beep.
const NOISE_LEVEL: f32 = 0.10;

/// The characters a captcha code is made of: digits that are beeps to count.
pub const DIGITS: [char; 8] = ['2', '3', '4', '5', '6', '7', '8', '9'];

/// How long the WAV of `code` plays, in milliseconds (what a listener, and a test, can
/// check against the code's length).
pub fn duration_ms(code: &str) -> u32 {
    let beeps: u32 = code.chars().filter_map(|c| c.to_digit(10)).sum();
    let groups = u32::try_from(code.chars().count()).unwrap_or(u32::MAX);
    LEAD_MS + beeps * (BEEP_MS + GAP_MS) + groups.saturating_sub(1) * PAUSE_MS + TAIL_MS
}

/// The WAV file (RIFF, PCM 16-bit mono) of `code`, noise drawn from `rng`.
pub fn wav(code: &str, rng: &mut impl Rng) -> Vec<u8> {
    let samples = synthesize(code, rng);
    let data_len = u32::try_from(samples.len() * 2).unwrap_or(u32::MAX);
    let mut out = Vec::with_capacity(44 + samples.len() * 2);
    out.extend_from_slice(b"RIFF");
    out.extend_from_slice(&(36 + data_len).to_le_bytes());
    out.extend_from_slice(b"WAVEfmt ");
    out.extend_from_slice(&16u32.to_le_bytes()); // fmt chunk size
    out.extend_from_slice(&1u16.to_le_bytes()); // PCM
    out.extend_from_slice(&1u16.to_le_bytes()); // mono
    out.extend_from_slice(&SAMPLE_RATE.to_le_bytes());
    out.extend_from_slice(&(SAMPLE_RATE * 2).to_le_bytes()); // bytes per second
    out.extend_from_slice(&2u16.to_le_bytes()); // bytes per frame
    out.extend_from_slice(&16u16.to_le_bytes()); // bits per sample
    out.extend_from_slice(b"data");
    out.extend_from_slice(&data_len.to_le_bytes());
    for s in samples {
        out.extend_from_slice(&s.to_le_bytes());
    }
    out
}

fn synthesize(code: &str, rng: &mut impl Rng) -> Vec<i16> {
    let mut signal: Vec<f32> = Vec::new();
    let silence = |signal: &mut Vec<f32>, ms: u32| {
        signal.extend(std::iter::repeat_n(0.0, samples_in(ms)));
    };
    silence(&mut signal, LEAD_MS);
    for (i, beeps) in code.chars().filter_map(|c| c.to_digit(10)).enumerate() {
        if i > 0 {
            silence(&mut signal, PAUSE_MS);
        }
        for _ in 0..beeps {
            // A slot of BEEP_MS + GAP_MS, the beep somewhere in its first part.
            let slot = samples_in(BEEP_MS + GAP_MS);
            let start = signal.len();
            silence(&mut signal, rng.random_range(0..=JITTER_MS));
            let length = rng.random_range(BEEP_MIN_MS..=BEEP_MS);
            let tone = (rng.random_range(TONE_HZ), rng.random_range(TONE_LEVEL));
            beep(&mut signal, length, tone);
            signal.resize(start + slot, 0.0);
        }
    }
    silence(&mut signal, TAIL_MS);
    signal
        .into_iter()
        .map(|s| {
            let noisy = s + NOISE_LEVEL * (rng.random::<f32>() * 2.0 - 1.0);
            // In range by construction (0.62 + 0.10 < 1): the cast only drops the fraction.
            #[expect(clippy::cast_possible_truncation, reason = "clamped to i16's range")]
            let sample = (noisy.clamp(-1.0, 1.0) * f32::from(i16::MAX)) as i16;
            sample
        })
        .collect()
}

/// One beep of `ms` at `(pitch, level)`, with short fades so it does not click.
fn beep(signal: &mut Vec<f32>, ms: u32, (pitch, level): (f32, f32)) {
    let n = samples_in(ms);
    let fade = samples_in(10);
    #[expect(clippy::cast_precision_loss, reason = "sample counts are small")]
    for i in 0..n {
        let t = i as f32 / SAMPLE_RATE as f32;
        let edge = i.min(n - 1 - i);
        let envelope = if edge < fade {
            edge as f32 / fade as f32
        } else {
            1.0
        };
        signal.push(level * envelope * (2.0 * std::f32::consts::PI * pitch * t).sin());
    }
}

fn samples_in(ms: u32) -> usize {
    usize::try_from(SAMPLE_RATE * ms / 1_000).unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Reads the beep groups back: what a listener counts.
    fn count_groups(wav: &[u8]) -> String {
        let samples: Vec<i16> = wav[44..]
            .chunks_exact(2)
            .map(|b| i16::from_le_bytes([b[0], b[1]]))
            .collect();
        let window = samples_in(20);
        let loud: Vec<bool> = samples
            .chunks(window)
            .map(|w| w.iter().map(|s| i32::from(*s).abs()).max().unwrap_or(0) > 12_000)
            .collect();
        let mut code = String::new();
        let (mut beeps, mut quiet) = (0u32, usize::MAX);
        let pause_windows = samples_in(PAUSE_MS) / window / 2;
        for (i, &l) in loud.iter().enumerate() {
            if l {
                if quiet > pause_windows && beeps > 0 {
                    code.push(char::from_digit(beeps, 10).unwrap_or('?'));
                    beeps = 0;
                }
                if quiet > 0 || i == 0 {
                    beeps += 1;
                }
                quiet = 0;
            } else {
                quiet = quiet.saturating_add(1);
            }
        }
        if beeps > 0 {
            code.push(char::from_digit(beeps, 10).unwrap_or('?'));
        }
        code
    }

    #[test]
    fn the_beeps_spell_the_code_and_the_length_fits_it() {
        let mut rng = rand::rng();
        for code in ["23456", "98765", "22222", "99999"] {
            let wav = wav(code, &mut rng);
            assert_eq!(&wav[..4], b"RIFF");
            let data = u32::from_le_bytes([wav[40], wav[41], wav[42], wav[43]]);
            assert_eq!(data as usize, wav.len() - 44);
            let ms = data / 2 * 1_000 / SAMPLE_RATE;
            assert!(ms.abs_diff(duration_ms(code)) <= 5, "{code}: {ms} ms");
            assert_eq!(count_groups(&wav), code);
        }
    }
}
