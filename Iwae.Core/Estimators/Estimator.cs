using System.Numerics;
using Iwae.Autodiff;
using Iwae.Core.Models;
using Iwae.Core.Training;

namespace Iwae.Core.Estimators;

/// <summary>How the gradient of the bound is estimated from k samples per input (<c>--estimator</c>).</summary>
public enum GradientEstimator
{
    /// <summary>The reparameterised gradient of the model's own bound (Burda et al. 2016, eq. 14; the VAE's ELBO for a VAE).</summary>
    Iwae,
    /// <summary>Sticking the landing (Roeder et al. 2017): the score term d/dphi log q(z|x) at fixed z is dropped.</summary>
    Stl,
    /// <summary>Doubly reparameterised (Tucker et al. 2019): encoder gradient sum_s w~_s^2 d log w_s/dz_s dz_s/dphi; decoder as IWAE.</summary>
    Dreg,
    /// <summary>MIWAE(M, K) (Rainforth et al. 2018): the mean of M IWAE bounds of K = k/M samples each.</summary>
    Miwae,
    /// <summary>CIWAE (Rainforth et al. 2018): beta ELBO + (1 - beta) IWAE bound, on the same k samples.</summary>
    Ciwae,
    /// <summary>PIWAE(M, K) (Rainforth et al. 2018): the encoder trained on MIWAE(M, K), the decoder on the IWAE bound of all k samples.</summary>
    Piwae,
}

/// <summary>
/// A gradient estimator: builds, on the tape, a surrogate loss whose gradient with respect to the model's parameters
/// is the estimator's (minus) gradient, from k fresh samples per input. Each subclass is its paper's equation;
/// all of them go through <see cref="Iwae{T}.Sample(Tape{T}, Var{T}, int, Rng)"/> and
/// <see cref="Iwae{T}.LogWeights(Tape{T}, Var{T}, in LatentSamples{T}, GradientPaths)"/>, and differ only in which
/// gradient paths of log w they keep and how they weigh the samples.
/// </summary>
public abstract class Estimator<T> where T : unmanaged, IFloatingPointIeee754<T>
{
    /// <summary>Which estimator this is.</summary>
    public abstract GradientEstimator Kind { get; }

    /// <summary>
    /// The surrogate loss [1,1] for the inputs x [B,D] with k samples each, and the log-weights [k,B] it was built from
    /// (their values are the same for every estimator: report <see cref="Iwae{T}.Bound"/> of them).
    /// </summary>
    public abstract (Var<T> Loss, Var<T> LogW) Surrogate(Tape<T> t, Iwae<T> model, Var<T> x, int k, Rng rng);

    /// <summary>Throws <see cref="ArgumentException"/> when this estimator does not apply to <paramref name="config"/> (model kind, k).</summary>
    public virtual void Validate(ModelConfig config)
    {
        if (config.Model != ModelKind.Iwae)
            throw new SettingException("estimator", $"{Name} applies to the iwae model only (a vae takes iwae or stl)");
    }

    /// <summary>Lower-case name, as on the command line.</summary>
    public string Name => Kind.ToString().ToLowerInvariant();

    /// <summary>The estimator <paramref name="kind"/>; <paramref name="groups"/> is M of miwae and piwae, <paramref name="beta"/> ciwae's weight on the ELBO.</summary>
    public static Estimator<T> Create(GradientEstimator kind, int groups = 1, double beta = 0.5) => kind switch
    {
        GradientEstimator.Iwae => new IwaeEstimator<T>(),
        GradientEstimator.Stl => new StlEstimator<T>(),
        GradientEstimator.Dreg => new DregEstimator<T>(),
        GradientEstimator.Miwae => new MiwaeEstimator<T>(groups),
        GradientEstimator.Ciwae => new CiwaeEstimator<T>(beta),
        GradientEstimator.Piwae => new PiwaeEstimator<T>(groups),
        _ => throw new ArgumentException($"unknown estimator {kind}"),
    };

    /// <summary>The estimator that <paramref name="options"/> names, with its M and beta.</summary>
    public static Estimator<T> Create(TrainOptions options) => Create(options.Estimator, options.Groups, options.Beta);
}
