using Iwae.Autodiff;
using Iwae.Core.Analysis;
using Iwae.Core.Checkpoints;
using Iwae.Core.Estimators;
using Iwae.Core.Models;
using Iwae.Core;

namespace Iwae.Experiments;

/// <summary>What `iwae snr` measures: the gradient SNR of some estimators at some k, on a checkpoint's model or the toy.</summary>
public sealed record SnrRequest
{
    /// <summary>The checkpoint whose weights are measured; null with <see cref="Toy"/>.</summary>
    public string? Checkpoint { get; init; }
    /// <summary>Rainforth et al.'s linear Gaussian model instead of a checkpoint.</summary>
    public bool Toy { get; init; }
    /// <summary>Values of k (<c>--ks</c>).</summary>
    public IReadOnlyList<int> Ks { get; init; } = [1, 3, 10, 30, 100, 300, 1000];
    /// <summary>Estimators (<c>--estimators</c>).</summary>
    public IReadOnlyList<GradientEstimator> Estimators { get; init; } = [GradientEstimator.Iwae, GradientEstimator.Dreg, GradientEstimator.Stl];
    /// <summary>Independent gradient draws per point (<c>--draws</c>, at least 2).</summary>
    public int Draws { get; init; } = 100;
    /// <summary>Inputs in the minibatch (<c>--images</c>): the first test images, or points drawn from the toy.</summary>
    public int Images { get; init; } = 1;
    /// <summary>M of miwae and piwae (<c>--groups</c>).</summary>
    public int Groups { get; init; } = 1;
    /// <summary>Seed of the draws (<c>--seed</c>).</summary>
    public ulong Seed { get; init; } = 1;
    /// <summary>The data of a checkpoint's test images (<see cref="RunSettings.Data"/>; null: the data it was trained on).</summary>
    public string? Data { get; init; }
}

/// <summary>The call behind `iwae snr`.</summary>
public static class SnrRuns
{
    /// <summary>
    /// Measures <paramref name="request"/> on <paramref name="execution"/> (null: <see cref="Execution.Serial"/>), reporting
    /// each point to <paramref name="onPoint"/> as it is done. Throws <see cref="ArgumentException"/> naming the setting
    /// (as its command-line option) when the request cannot be measured; the execution's cancellation stops it between
    /// gradient draws.
    /// </summary>
    public static SnrReport Measure(SnrRequest request, Action<SnrPoint>? onPoint = null, Execution? execution = null)
    {
        var r = request;
        if (r.Draws < 2) throw new SettingException("draws", $"must be >= 2, got {r.Draws}");
        Limits.Draws.Check(r.Draws);
        Limits.Draws.Check(r.Images, "images");
        Limits.Groups.Check(r.Groups);
        if (r.Ks.Count == 0 || r.Ks.Any(k => !Limits.K.Allows(k))) throw new SettingException("ks", $"must list values of k {Limits.K.Range}");
        if (r.Toy == (r.Checkpoint is not null)) throw new ArgumentException("give either --checkpoint FILE or --toy");
        if (r.Toy && r.Data is not null) throw new ArgumentException("--data does not apply to --toy, which draws its own data");
        Iwae<float> model;
        Tensor<float> x;
        if (r.Toy) (model, x) = LinearGaussianToy.Create<float>(count: r.Images, seed: r.Seed);
        else
        {
            var saved = RunCheckpoint.Read(r.Checkpoint!);
            model = saved.Model();
            var data = Runs.LoadData(saved.Settings(data: r.Data), model.Config);
            if (r.Images > data.TestX.Rows) throw new SettingException("images", $"must be at most the {data.TestX.Rows} test images, got {r.Images}");
            x = data.TestX.RowSlice(0, r.Images);
        }
        foreach (var e in r.Estimators) Estimator<float>.Create(e, r.Groups).Validate(model.Config with { K = r.Groups });
        if (!r.Estimators.Any(e => e is not (GradientEstimator.Miwae or GradientEstimator.Piwae)) && !r.Ks.Any(k => k % r.Groups == 0))
            throw new SettingException("ks", $"has no multiple of groups ({r.Groups}), so miwae and piwae have nothing to measure");
        // Each gradient draw runs the model on k x images rows.
        Limits.CheckTensor("one gradient draw's activations (the largest --ks x --images rows, the widest layer's columns)", (long)r.Ks.Max() * r.Images, model.Config.WidestLayer);
        var points = Diagnostics.SnrSweep(model, x, r.Ks, r.Estimators, r.Draws, r.Groups, r.Seed, onPoint, execution);
        return new SnrReport(r.Checkpoint, r.Toy, model.Config.Architecture, r.Images, r.Draws, r.Groups, r.Seed, points);
    }
}
