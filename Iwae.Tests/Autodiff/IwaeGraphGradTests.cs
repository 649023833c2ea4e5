using Iwae.Autodiff;
using static Iwae.Tests.TestUtil;

namespace Iwae.Tests.Autodiff;

/// <summary>
/// Whole-graph float64 gradient check: 2-layer tanh encoder -> reparameterised z -> 2-layer tanh decoder ->
/// Bernoulli log-likelihood -> IWAE loss with StopGradient weights, at k = 1 and 3.
/// </summary>
public class IwaeGraphGradTests
{
    private const int B = 3, D = 6, H = 5, Z = 2;

    private sealed class Net
    {
        public readonly Parameter<double>[] P;
        public readonly Tensor<double> X;
        public readonly Tensor<double> Eps;
        public readonly int K;

        public Net(int k)
        {
            K = k;
            ulong seed = 100;
            Parameter<double> U(string n, int r, int c, double a = 0.7) => Uniform(n, r, c, seed++, -a, a);
            P =
            [
                U("enc.W1", D, H), U("enc.b1", 1, H), U("enc.W2", H, H), U("enc.b2", 1, H),
                U("enc.Wmu", H, Z), U("enc.bmu", 1, Z), U("enc.Wls", H, Z, 0.3), U("enc.bls", 1, Z, 0.3),
                U("dec.W1", Z, H), U("dec.b1", 1, H), U("dec.W2", H, H), U("dec.b2", 1, H),
                U("dec.Wout", H, D), U("dec.bout", 1, D),
            ];
            X = Random<double>(B, D, 7);
            for (int i = 0; i < X.Length; i++) X.Span[i] = X.Span[i] > 0 ? 1 : 0;
            Eps = Tensor<double>.Zeros(k * B, Z);
            new Rng(8).FillNormal(Eps.Span);
        }

        /// <summary>log w as [k,B]: row s holds sample s of every input.</summary>
        public Var<double> LogW(Tape<double> t)
        {
            var x = t.Constant(X);
            var h = t.LinearTanh(t.LinearTanh(x, P[0], P[1]), P[2], P[3]);
            var mu = t.RepeatRows(t.Linear(h, P[4], P[5]), K);            // [k*B,Z]
            var logSigma = t.RepeatRows(t.Linear(h, P[6], P[7]), K);      // [k*B,Z]
            var z = t.Add(mu, t.Mul(t.Exp(logSigma), t.Constant(Eps)));
            var logits = t.Linear(t.LinearTanh(t.LinearTanh(z, P[8], P[9]), P[10], P[11]), P[12], P[13]);
            var logPx = t.BernoulliLogLik(logits, t.RepeatRows(x, K));   // [k*B,1]
            var logW = t.Sub(t.Add(logPx, t.StandardNormalLogDensity(z)), t.GaussianLogDensity(z, mu, logSigma));
            return t.Reshape(logW, K, B);
        }

        /// <summary>-mean_b sum_s StopGradient(w_bs) log w_bs.</summary>
        public Var<double> Loss(Tape<double> t)
        {
            var logW = LogW(t);
            var w = t.StopGradient(t.Softmax(logW, 0));
            return t.Neg(t.Mean(t.Sum(t.Mul(w, logW), 0)));
        }

        /// <summary>-L_k = -mean_b (logsumexp_s log w_bs - log k).</summary>
        public Var<double> NegBound(Tape<double> t)
            => t.Neg(t.Mean(t.Sub(t.LogSumExp(LogW(t), 0), t.Fill(1, 1, Math.Log(K)))));
    }

    [TestCase(1)]
    [TestCase(3)]
    public void IwaeLoss_GradCheck(int k)
    {
        var net = new Net(k);
        var r = GradCheck.Check(net.Loss, net.P);
        Assert.That(r.Passed, Is.True, r.ToString());
        Assert.That(r.Checks, Is.EqualTo(net.P.Sum(p => p.Value.Length)), "every parameter element is checked");
    }

    [TestCase(1)]
    [TestCase(3)]
    public void IwaeLossGradient_IsTheGradientOfTheBound(int k)
    {
        var net = new Net(k);
        // The bound has no StopGradient: this is a plain finite-difference check of -L_k ...
        var r = GradCheck.Check(net.NegBound, net.P);
        Assert.That(r.Passed, Is.True, r.ToString());
        var boundGrad = net.P.SelectMany(p => p.Grad.ToArray()).ToArray();
        // ... and the surrogate loss's tape gradient must equal it.
        net.P.ZeroGrad();
        var t = new Tape<double>();
        t.Backward(net.Loss(t));
        var lossGrad = net.P.SelectMany(p => p.Grad.ToArray()).ToArray();
        Assert.That(MaxAbsDiff(lossGrad, boundGrad), Is.LessThan(1e-12));
        Assert.That(boundGrad.Max(Math.Abs), Is.GreaterThan(1e-3), "a non-trivial gradient");
    }
}
