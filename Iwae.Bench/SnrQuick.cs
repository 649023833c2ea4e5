using System.Diagnostics;
using System.Globalization;
using Iwae.Autodiff;
using Iwae.Core.Analysis;
using Iwae.Core.Checkpoints;
using Iwae.Core.Estimators;
using Iwae.Core.Models;
using Iwae.Core.Training;
using Iwae.Experiments;

namespace Iwae.Bench;

/// <summary>
/// `quick snr [ks=1,5,50,500] [estimators=iwae,dreg,stl] [draws=100] [images=1] [groups=M] [checkpoint=FILE]
/// [epochs=E] [threads=2] [seed=1] [toy=1]`: the signal-to-noise ratio of the encoder's and the decoder's gradients as k grows
/// (Rainforth et al. 2018), one line per estimator and k, e.g.
/// `snr estimator=iwae k=50 encoder=0.0123 decoder=1.234 draws=100 images=1 ms=830`. The model is the checkpoint's,
/// or the paper's 1-layer model trained for E epochs on the embedded subset (0: at initialisation, where the
/// trend need not show yet); the data are the first test images, binarised. With toy=1 the model is
/// <see cref="LinearGaussianToy"/> and the data are `images` points drawn from it. miwae and piwae skip the k that M
/// does not divide.
/// </summary>
public static class SnrQuick
{
    public static void Run(string[] args)
    {
        var opt = Scenarios.QuickOptions(args);
        int[] ks = opt.TryGetValue("ks", out var k) ? k.Split(',').Select(int.Parse).ToArray() : [1, 5, 50, 500];
        var estimators = (opt.TryGetValue("estimators", out var e) ? e.Split(',') : ["iwae", "dreg", "stl"])
            .Select(n => Enum.Parse<GradientEstimator>(n, ignoreCase: true)).ToArray();
        int draws = opt.TryGetValue("draws", out var d) ? int.Parse(d, CultureInfo.InvariantCulture) : 100;
        int images = opt.TryGetValue("images", out var im) ? int.Parse(im, CultureInfo.InvariantCulture) : 1;
        int groups = opt.TryGetValue("groups", out var g) ? int.Parse(g, CultureInfo.InvariantCulture) : 5;
        int epochs = opt.TryGetValue("epochs", out var ep) ? int.Parse(ep, CultureInfo.InvariantCulture) : 0;
        int threads = opt.TryGetValue("threads", out var th) ? int.Parse(th, CultureInfo.InvariantCulture) : 2;
        ulong seed = opt.TryGetValue("seed", out var s) ? ulong.Parse(s, CultureInfo.InvariantCulture) : 1;

        Iwae<float> model;
        Tensor<float> x;
        string? path = null;
        bool toy = opt.TryGetValue("toy", out var t) && t is "1" or "true";
        if (toy) (model, x) = LinearGaussianToy.Create<float>(count: images, seed: seed);
        else
        {
            var (train, testX) = Scenarios.Data();
            if (opt.TryGetValue("checkpoint", out path)) model = RunCheckpoint.LoadModel(path);
            else
            {
                model = Runs.CreateModel(new ModelConfig(), train, 1);
                if (epochs > 0) new Trainer(model, train, new TrainOptions { Epochs = epochs }, Scenarios.Execution(threads)).Train();
            }
            x = testX.RowSlice(0, images);
        }
        string source = toy ? "linear Gaussian toy" : path ?? $"{epochs} epochs";
        Console.WriteLine(FormattableString.Invariant($"# snr: {model.Config.Architecture}, {source}, {images} input(s), {draws} draws, threads={threads}"));
        var sw = Stopwatch.StartNew();
        Iwae.Core.Analysis.Diagnostics.SnrSweep(model, x, ks, estimators, draws, groups, seed, r =>
        {
            string m = r.Estimator is "miwae" or "piwae" ? $" groups={groups}" : "";
            Console.WriteLine(FormattableString.Invariant(
                $"snr estimator={r.Estimator}{m} k={r.K} encoder={r.Encoder:G4} decoder={r.Decoder:G4} draws={draws} images={images} ms={sw.Elapsed.TotalMilliseconds:F0}"));
            sw.Restart();
        }, Scenarios.Execution(threads));
    }
}
