using Iwae.Autodiff;
using Iwae.Core.Analysis;
using Iwae.Core.Data;
using Iwae.Core.Models;
using Iwae.Core.Training;
using static Iwae.Tests.TestUtil;

namespace Iwae.Tests.Core;

/// <summary>
/// Small models for the Monte Carlo tests of the estimators, the SNR and the posterior sampler: 12 pixels, a 2-D latent
/// (or 3-D h1 under a 2-D h2), trained briefly on data drawn from the model itself so that q is near, but not at,
/// the posterior, the regime the variance-reducing estimators are about.
/// </summary>
internal static class SmallModels
{
    public static ModelConfig Config(int layers) => layers == 1
        ? new ModelConfig { K = 5, InputSize = 12, Hidden = [8], Latent = 2 }
        : new ModelConfig { K = 5, InputSize = 12, Hidden = [8], Latent = 3, Layers = 2, Hidden2 = [6], Latent2 = 2 };

    private static readonly Dictionary<int, (Iwae<double>, Tensor<double>, Iwae<float>, Tensor<float>)> Cache = new();

    /// <summary>
    /// <see cref="Trained(ModelConfig, int, int, ulong)"/> for <see cref="Config"/>(<paramref name="layers"/>), 20 epochs, 2 inputs,
    /// built once per test run (tests only read the weights; each zeroes the gradients it uses).
    /// </summary>
    public static (Iwae<double> Model, Tensor<double> X, Iwae<float> Model32, Tensor<float> X32) Trained(int layers)
    {
        lock (Cache)
        {
            if (!Cache.TryGetValue(layers, out var m)) Cache[layers] = m = Trained(Config(layers), epochs: 20, inputs: 2, seed: 3);
            return m;
        }
    }

    /// <summary>
    /// A model whose decoder weights are doubled (a less trivial posterior), trained for <paramref name="epochs"/> epochs
    /// on 600 images drawn from it, in float32 and as an exact float64 copy, with the first <paramref name="inputs"/> images.
    /// </summary>
    public static (Iwae<double> Model, Tensor<double> X, Iwae<float> Model32, Tensor<float> X32) Trained(ModelConfig config, int epochs, int inputs, ulong seed)
    {
        var m32 = Iwae<float>.Create(config, new Rng(seed));
        foreach (var p in m32.DecoderParameters)
        {
            var a = p.Value.Span;
            for (int i = 0; i < a.Length; i++) a[i] *= 2f;
        }
        var rng = new Rng(seed + 1);
        const int n = 600;
        var pixels = Sampling.DecoderMeans(m32, Sampling.PriorSamples(m32, n, rng));
        var x32 = Tensor<float>.Zeros(n, config.InputSize);
        for (int i = 0; i < x32.Length; i++) x32.Span[i] = rng.NextFloat() < pixels.Span[i] ? 1 : 0;
        if (epochs > 0)
            new Trainer(m32, new Dataset(x32, new byte[n], 1, config.InputSize), new TrainOptions { Epochs = epochs, Seed = 5, LearningRate = 3e-3 }).Train();
        var m64 = Iwae<double>.Create(config, new Rng(seed));
        CopyWeights(m32.Parameters, m64.Parameters);
        var x = Tensor<double>.Zeros(inputs, config.InputSize);
        for (int i = 0; i < x.Length; i++) x.Span[i] = x32.Span[i];
        return (m64, x, m32, x32.RowSlice(0, inputs).Clone());
    }
}
