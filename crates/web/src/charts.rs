//! Server-rendered SVG charts (plotters' SVG backend): the audit summary's
//! bars. Text is left to the browser (`<text>`), so Chinese labels need no
//! font files on the server.

use plotters::prelude::*;

/// One bar: its label, its height, and the part of it drawn as failures.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Bar {
    /// Under the bar.
    pub label: String,
    /// Height.
    pub value: i64,
    /// The lower part drawn in the failure colour (0 for none).
    pub failed: i64,
}

/// A bar chart as an SVG document, `width` x `height` pixels; `caption`
/// above, `y_label` along the side. An empty chart is still a valid SVG.
pub fn bars(caption: &str, y_label: &str, data: &[Bar], width: u32, height: u32) -> String {
    let mut svg = String::new();
    // plotters has panicked on edge cases of its axis arithmetic: a chart
    // must never take a page down with it.
    let drawn = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        draw(&mut svg, caption, y_label, data, width, height).map_err(|e| e.to_string())
    }));
    let failed = match drawn {
        Ok(Ok(())) => None,
        Ok(Err(e)) => Some(e),
        Err(_) => Some("the chart library panicked".to_string()),
    };
    if let Some(e) = failed {
        tracing::warn!("chart '{caption}' not drawn: {e}");
        svg = format!(
            "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{width}\" height=\"{height}\"></svg>"
        );
    }
    svg
}

fn draw(
    out: &mut String,
    caption: &str,
    y_label: &str,
    data: &[Bar],
    width: u32,
    height: u32,
) -> Result<(), Box<dyn std::error::Error>> {
    let root = SVGBackend::with_string(out, (width, height)).into_drawing_area();
    root.fill(&WHITE)?;
    let n = data.len().max(1) as u32;
    // Heights as f64: plotters' integer axes overflow on small ranges.
    let top = data.iter().map(|b| b.value).max().unwrap_or(0).max(1) as f64;
    let mut chart = ChartBuilder::on(&root)
        .caption(caption, ("sans-serif", 16))
        .margin(10)
        .x_label_area_size(40)
        .y_label_area_size(50)
        .build_cartesian_2d((0u32..n).into_segmented(), 0f64..top * 1.1 + 1.0)?;
    let labels: Vec<String> = data.iter().map(|b| b.label.clone()).collect();
    chart
        .configure_mesh()
        .disable_x_mesh()
        .y_desc(y_label)
        .y_label_formatter(&|v| format!("{v:.0}"))
        .x_labels(data.len().min(15))
        .x_label_formatter(&|v| match v {
            SegmentValue::CenterOf(i) => labels.get(*i as usize).cloned().unwrap_or_default(),
            _ => String::new(),
        })
        .draw()?;
    let blue = RGBColor(0x2f, 0x6f, 0xb5);
    let red = RGBColor(0xc0, 0x39, 0x2b);
    chart.draw_series(
        Histogram::vertical(&chart)
            .style(blue.filled())
            .margin(3)
            .data(
                data.iter()
                    .enumerate()
                    .map(|(i, b)| (i as u32, b.value as f64)),
            ),
    )?;
    if data.iter().any(|b| b.failed > 0) {
        chart.draw_series(
            Histogram::vertical(&chart)
                .style(red.filled())
                .margin(3)
                .data(
                    data.iter()
                        .enumerate()
                        .map(|(i, b)| (i as u32, b.failed as f64)),
                ),
        )?;
    }
    root.present()?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_chart_is_an_svg_with_its_labels() {
        let data = vec![
            Bar {
                label: "11-24".into(),
                value: 7,
                failed: 2,
            },
            Bar {
                label: "管理员".into(),
                value: 3,
                failed: 0,
            },
        ];
        let svg = bars("Changes per day", "changes", &data, 600, 300);
        assert!(svg.starts_with("<svg"), "{svg:.80}");
        assert!(
            svg.contains("11-24") && svg.contains("管理员"),
            "labels are text"
        );
        assert!(svg.contains("Changes per day"));
        assert!(
            svg.matches("<rect").count() >= 3,
            "bars and the failure part"
        );
        let empty = bars("Nothing", "", &[], 300, 200);
        assert!(empty.starts_with("<svg"));
    }
}
