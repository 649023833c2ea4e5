using System.Numerics;
using Iwae.Autodiff;

namespace Iwae.Core;

/// <summary>
/// The recognition model q(z|x) = N(z; mu(x), diag(sigma(x)^2)): a tanh MLP with two linear heads,
/// mu and log sigma.
/// </summary>
public sealed class GaussianEncoder<T> where T : unmanaged, IFloatingPointIeee754<T>
{
    private readonly Mlp<T> _body;
    private readonly Dense<T> _mu, _logSigma;

    /// <summary>input -> hidden... -> (mu, logSigma), each [N, latent].</summary>
    public GaussianEncoder(int input, IReadOnlyList<int> hidden, int latent, Rng rng)
    {
        _body = new Mlp<T>("encoder.hidden", input, hidden, rng);
        _mu = new Dense<T>("encoder.mu", _body.Outputs, latent, rng);
        _logSigma = new Dense<T>("encoder.logsigma", _body.Outputs, latent, rng);
    }

    /// <summary>Latent dimension.</summary>
    public int Latent => _mu.Outputs;

    /// <summary>x [B,D] -> mu [B,Z], logSigma [B,Z].</summary>
    public (Var<T> Mu, Var<T> LogSigma) Encode(Tape<T> t, Var<T> x)
    {
        var h = _body.Forward(t, x);
        return (_mu.Linear(t, h), _logSigma.Linear(t, h));
    }

    /// <summary>Body, then the mu head, then the log-sigma head.</summary>
    public IEnumerable<Parameter<T>> Parameters => _body.Parameters.Concat(_mu.Parameters).Concat(_logSigma.Parameters);
}
