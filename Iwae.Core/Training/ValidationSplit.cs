using Iwae.Autodiff;
using Iwae.Core.Data;

namespace Iwae.Core.Training;

/// <summary>
/// The validation split of <see cref="TrainOptions.ValidationFraction"/>: a share of the <em>training</em> examples (the
/// test split is never seen), chosen by a shuffle with a fixed seed, so every run on the same training data holds out the
/// same examples whatever its own seed. Both parts keep the examples' order.
/// </summary>
public static class ValidationSplit
{
    /// <summary>Seed of the shuffle that chooses the held-out examples.</summary>
    public const ulong Seed = 0x7A11DA7E;

    /// <summary>Seed of the validation images' one fixed binarisation (Bernoulli models).</summary>
    public const ulong BinarizationSeed = 0x7A11DB17;

    /// <summary>Seed of the validation bound's sampling noise: the same at every epoch, so bounds of two epochs differ by the weights alone.</summary>
    public const ulong NoiseSeed = 0x7A11D5EE;

    /// <summary>
    /// How many of <paramref name="count"/> training examples are held out at <paramref name="fraction"/>: none at 0, else
    /// round(count x fraction), at least one and at least one left to train on.
    /// </summary>
    /// <exception cref="ArgumentException">A split of fewer than 2 examples.</exception>
    public static int HeldOut(int count, double fraction)
    {
        if (!(fraction > 0)) return 0;
        if (count < 2) throw new ArgumentException($"{count} training example{(count == 1 ? "" : "s")}: too few to hold some out for validation");
        return Math.Clamp((int)Math.Round(count * fraction), 1, count - 1);
    }

    /// <summary>
    /// The rows of a training set of <paramref name="count"/> examples that train (<c>Fit</c>) and that validate, each in
    /// increasing order; at <paramref name="fraction"/> 0 every row trains.
    /// </summary>
    public static (int[] Fit, int[] Validation) Rows(int count, double fraction)
    {
        int held = HeldOut(count, fraction);
        var order = Enumerable.Range(0, count).ToArray();
        if (held == 0) return (order, []);
        new Rng(Seed).Shuffle(order);
        var validation = order[..held];
        var fit = order[held..];
        Array.Sort(validation);
        Array.Sort(fit);
        return (fit, validation);
    }

    /// <summary>
    /// <paramref name="train"/> split at <paramref name="fraction"/>: the examples that train (<paramref name="train"/>
    /// itself when the fraction is 0) and those that validate (null when it is 0).
    /// </summary>
    public static (Dataset Fit, Dataset? Validation) Of(Dataset train, double fraction)
    {
        if (!(fraction > 0)) return (train, null);
        var (fit, validation) = Rows(train.Count, fraction);
        return (train.Select(fit), train.Select(validation));
    }
}
