using System.Globalization;
using Iwae.Autodiff;

namespace Iwae.Core;

/// <summary>
/// An integer setting's allowed range, stated once: the options, config fields and files that set it are all checked
/// against it before anything is allocated, so a huge value is one line naming the field, never an overflow.
/// </summary>
/// <param name="Field">The setting's name in configs, files and messages ("k", "eval_k").</param>
/// <param name="Min">The smallest allowed value.</param>
/// <param name="Max">The largest allowed value.</param>
public sealed record SizeLimit(string Field, long Min, long Max)
{
    /// <summary>"from 1 to 100000", for help texts and messages.</summary>
    public string Range => string.Create(CultureInfo.InvariantCulture, $"from {Min} to {Max}");

    /// <summary>Whether <paramref name="value"/> lies in the range.</summary>
    public bool Allows(long value) => value >= Min && value <= Max;

    /// <summary>
    /// <paramref name="value"/> when it lies in the range; else <see cref="SettingException"/> "FIELD must be from MIN to MAX,
    /// got VALUE", with FIELD <paramref name="field"/> (a setting that shares this limit) or <see cref="Field"/>.
    /// </summary>
    public int Check(long value, string? field = null)
        => Allows(value) ? checked((int)value) : throw new SettingException(field ?? Field, string.Create(CultureInfo.InvariantCulture, $"must be {Range}, got {value}"));
}

/// <summary>
/// The largest sizes Iwae.NET accepts (docs/errors.md lists them). Each is far beyond any sensible run on one machine;
/// beyond them a count would overflow 32 bits, one tensor would not fit in memory, or a run would not end.
/// </summary>
public static class Limits
{
    /// <summary>Importance samples per input while training (Burda et al. use up to 50).</summary>
    public static readonly SizeLimit K = new("k", 1, 100_000);

    /// <summary>Samples per image of the log-likelihood estimate (5000 in the paper); evaluation draws them in chunks.</summary>
    public static readonly SizeLimit EvalK = new("eval_k", 1, 1_000_000);

    /// <summary>Values per example of the data (784 for MNIST).</summary>
    public static readonly SizeLimit InputSize = new("input_size", 1, 1 << 24);

    /// <summary>Width of one hidden layer.</summary>
    public static readonly SizeLimit Width = new("hidden width", 1, 1 << 16);

    /// <summary>Hidden layers of one encoder (the decoder mirrors them).</summary>
    public static readonly SizeLimit Depth = new("hidden layers", 0, 64);

    /// <summary>M of the miwae and piwae estimators, groups of k/M samples (M must also divide k).</summary>
    public static readonly SizeLimit Groups = new("groups", 1, 100_000);

    /// <summary>beta of the ciwae estimator, its weight on the ELBO: <paramref name="beta"/> when it lies in [0, 1].</summary>
    public static double CheckBeta(double beta) => beta is >= 0 and <= 1 ? beta : throw new SettingException("beta", $"must be in [0, 1], got {beta}");

    /// <summary>Dimension of a latent layer (the report's latent-space figure takes a latent x latent covariance).</summary>
    public static readonly SizeLimit Latent = new("latent", 1, 4096);

    /// <summary>Stages of the Burda schedule: stage i runs 3^(i-1) epochs, so 12 stages are 265720 epochs (the paper uses 8).</summary>
    public static readonly SizeLimit Stages = new("stages", 1, 12);

    /// <summary>Epochs of a fixed-rate schedule.</summary>
    public static readonly SizeLimit Epochs = new("epochs", 0, 1_000_000);

    /// <summary>Epochs without a better validation bound before training stops (<c>--patience</c>).</summary>
    public static readonly SizeLimit Patience = new("patience", 1, 1_000_000);

    /// <summary>Inputs per minibatch.</summary>
    public static readonly SizeLimit Batch = new("batch_size", 1, 1_000_000);

    /// <summary>Kernel threads (each is a worker thread of its own): <see cref="Autodiff.Execution.MaxThreads"/>.</summary>
    public static readonly SizeLimit Threads = new("threads", 1, Autodiff.Execution.MaxThreads);

    /// <summary>Epochs between checkpoints.</summary>
    public static readonly SizeLimit CheckpointEvery = new("checkpoint_every", 1, 1_000_000);

    /// <summary>Draws, images or proposals of `sample` and `snr`, per request.</summary>
    public static readonly SizeLimit Draws = new("draws", 1, 100_000);

    /// <summary>Values in one tensor that a size setting makes (rows x columns): 2^28 floats, 1 GiB.</summary>
    public const long MaxTensorValues = 1L << 28;

    /// <summary>
    /// Throws <see cref="ArgumentException"/> when a <paramref name="rows"/> x <paramref name="cols"/> tensor, which
    /// <paramref name="what"/> describes ("k x batch x widest layer"), would hold more than <see cref="MaxTensorValues"/>.
    /// </summary>
    public static void CheckTensor(string what, long rows, long cols)
    {
        // Both factors are at most 2^31, so the product fits a long.
        if (rows * cols > MaxTensorValues)
            throw new ArgumentException(string.Create(CultureInfo.InvariantCulture,
                $"{what} is {rows} x {cols} = {rows * cols} values, more than the {MaxTensorValues} (1 GiB of floats) one tensor may hold"));
    }
}
