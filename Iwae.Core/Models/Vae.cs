using System.Numerics;
using Iwae.Autodiff;
using Iwae.Core.Data;

namespace Iwae.Core.Models;

/// <summary>
/// The VAE as the IWAE's special case: every sample gets the same weight 1/k, so the loss becomes the
/// k-sample ELBO  (1/k) sum_s log w_s. Nothing else differs.
/// </summary>
public sealed class Vae<T> : Iwae<T> where T : unmanaged, IFloatingPointIeee754<T>
{
    /// <inheritdoc />
    public Vae(ModelConfig config, Rng rng, ReadOnlySpan<float> meanPixel = default, Standardization? standardization = null)
        : base(config, rng, meanPixel, standardization) { }

    /// <summary>Uniform weights 1/k: [k,B] -> [k,B].</summary>
    protected override Var<T> GetWeights(Tape<T> t, Var<T> logW)
        => t.Fill(logW.Rows, logW.Cols, T.One / T.CreateTruncating(logW.Rows));
}
