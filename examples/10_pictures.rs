//! Lesson 10 — pictures are rows: what an MLP sees of an image, and where it looks.
//!
//! A folder per class of small images is read as torchvision's `ImageFolder` reads one: each
//! image becomes one row of its pixels, row by row, scaled to [0, 1]. To the network that row is
//! just 144 numbers: h = Φ(x·W¹) gives every pixel its own weight to every hidden neuron, and
//! nothing in the sum says which pixels are neighbours. So shuffling the pixels — the same way in
//! every image — leaves it exactly as able to learn: the permuted problem is the original one
//! with W¹'s rows renamed. (A convolutional network, built on neighbourhoods, would be lost.)
//!
//! Then the chain rule of lesson 9, pointed at the pixels: integrated gradients show which of them
//! the prediction owes to, drawn here as characters (`mlp explain --attributions --plot` draws a
//! heatmap).
//!
//! Run: `cargo run --release --example 10_pictures`

use mlp::attribution::integrated_gradients;
use mlp::data::images::{read_image_folder, ImageRead};
use mlp::metrics::accuracy;
use mlp::network::classes;
use mlp::{fit, Activation, Dataset, Matrix, NetworkSpec, Rng, TrainConfig};

const SIDE: u32 = 12;

/// 12×12 gray images of a plus (`+`) or a cross (`x`), 3 pixels from the centre at most, on noise.
fn draw_folder(dir: &std::path::Path) {
    let mut rng = Rng::new(7);
    for class in ["cross", "plus"] {
        std::fs::create_dir_all(dir.join(class)).unwrap();
        for i in 0..150 {
            let (cx, cy) = (3 + rng.below(6) as i32, 3 + rng.below(6) as i32);
            let noise: Vec<u8> = (0..SIDE * SIDE)
                .map(|_| (rng.uniform() * 70.0) as u8)
                .collect();
            let img = image::GrayImage::from_fn(SIDE, SIDE, |x, y| {
                let (dx, dy) = (x as i32 - cx, y as i32 - cy);
                let on = match class {
                    "plus" => (dx == 0 || dy == 0) && dx.abs() <= 2 && dy.abs() <= 2,
                    _ => dx.abs() == dy.abs() && dx.abs() <= 2,
                };
                image::Luma([if on {
                    240
                } else {
                    noise[(y * SIDE + x) as usize]
                }])
            });
            img.save(dir.join(format!("{class}/{i:03}.png"))).unwrap();
        }
    }
}

/// Test accuracy of a 144-32-2 network trained on `data`'s training rows.
fn train_and_test(data: &Dataset<f64>) -> mlp::Result<(mlp::Network<f64>, f64)> {
    let (train, test) = data.split(0.25, 1);
    let mut net = NetworkSpec::new(data.x.cols)
        .dense(32, Activation::Relu)
        .dense(2, Activation::Softmax)
        .build::<f64>(3);
    let config = TrainConfig {
        epochs: 40,
        learning_rate: 0.003,
        ..Default::default()
    };
    fit(&mut net, &train, &config)?;
    let truth = match &test.y {
        mlp::Targets::Classes(c) => c.clone(),
        _ => unreachable!("a folder of class folders is a classification"),
    };
    let acc = accuracy(&classes(&net.predict(&test.x)), &truth, None);
    Ok((net, acc))
}

fn main() -> mlp::Result<()> {
    let dir = std::env::temp_dir().join(format!("mlp-lesson-10-{}", std::process::id()));
    draw_folder(&dir);
    let (data, shape) = read_image_folder::<f64>(&dir, ImageRead::default())?;
    let _ = std::fs::remove_dir_all(&dir);
    println!(
        "{} images of {} classes ({}): each a row of {} pixels in [0, 1]",
        data.len(),
        data.class_names.len(),
        data.class_names.join(", "),
        shape.features()
    );

    // The same permutation of the pixels in every image.
    let mut order: Vec<usize> = (0..data.x.cols).collect();
    Rng::new(11).shuffle(&mut order);
    let mut shuffled = data.clone();
    let values = (0..data.len()).flat_map(|r| order.iter().map(move |&j| (r, j)));
    shuffled.x = Matrix::from_vec(
        data.len(),
        data.x.cols,
        values.map(|(r, j)| data.x[(r, j)]).collect(),
    );
    let (net, plain) = train_and_test(&data)?;
    let (_, permuted) = train_and_test(&shuffled)?;
    println!("test accuracy, pixels in place: {plain:.3}; pixels shuffled: {permuted:.3}");

    // Where the network looks: integrated gradients of one image's predicted class, from black.
    let row = 160;
    let x = data.x.row(row).to_vec();
    let p = net.predict(&Matrix::from_vec(1, x.len(), x.clone()));
    let c = usize::from(p[(0, 1)] > p[(0, 0)]);
    let a = integrated_gradients(&net, &x, &vec![0.0; x.len()], c, 128);
    let top = a.inputs.iter().fold(0.0f64, |m, v| m.max(v.abs()));
    println!(
        "\nimage {row}, predicted {} (p = {:.3}); the image, then each pixel's attribution \
         (+ raises p, - lowers it; doubled where over half the largest):",
        data.class_names[c],
        p[(0, c)]
    );
    for y in 0..SIDE as usize {
        let line = |f: &dyn Fn(usize) -> &'static str| -> String {
            (0..SIDE as usize)
                .map(|x| f(y * SIDE as usize + x))
                .collect()
        };
        let pixel = line(&|i| match x[i] {
            v if v > 0.6 => "##",
            v if v > 0.2 => "..",
            _ => "  ",
        });
        let why = line(&|i| match a.inputs[i] / top {
            v if v > 0.5 => "++",
            v if v > 0.1 => "+ ",
            v if v < -0.5 => "--",
            v if v < -0.1 => "- ",
            _ => " .",
        });
        println!("  |{pixel}|   |{why}|");
    }
    println!(
        "Σ attributions {:+.4} = p(x) − p(black) {:+.4} (gap {:.1e})",
        a.inputs.iter().sum::<f64>(),
        a.value - a.baseline_value,
        a.gap()
    );
    Ok(())
}
