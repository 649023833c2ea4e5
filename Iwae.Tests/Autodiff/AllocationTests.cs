using Iwae.Autodiff;
using static Iwae.Tests.TestUtil;

namespace Iwae.Tests.Autodiff;

/// <summary>A steady-state step allocates nothing on the managed heap.</summary>
public class AllocationTests
{
    /// <summary>With the output layer and its likelihood as two ops, or fused (<see cref="Tape{T}.LinearBernoulliLogLik"/>).</summary>
    [Test]
    public void SecondAndLaterSteps_AllocateZeroBytes([Values] bool fused)
    {
        const int B = 8, D = 12, H = 10, Z = 3, K = 4;
        ulong seed = 1;
        Parameter<float> P(string n, int r, int c) => new(n, Random<float>(r, c, seed++, 0.3));
        Parameter<float>[] ps =
        [
            P("W1", D, H), P("b1", 1, H), P("Wmu", H, Z), P("bmu", 1, Z), P("Wls", H, Z), P("bls", 1, Z),
            P("V1", Z, H), P("c1", 1, H), P("V2", H, D), P("c2", 1, D),
        ];
        var x = Random<float>(B, D, 50);
        for (int i = 0; i < x.Length; i++) x.Span[i] = x.Span[i] > 0 ? 1 : 0;
        var eps = Tensor<float>.Zeros(K * B, Z);
        var rng = new Rng(3);
        var adam = new Adam<float>(ps, 1e-3, 0.99, 0.999, 1e-4);
        var tape = new Tape<float>();

        float Step()
        {
            rng.FillNormal(eps.Span);
            var xv = tape.Constant(x);
            var h = tape.LinearTanh(xv, ps[0], ps[1]);
            var mu = tape.RepeatRows(tape.Linear(h, ps[2], ps[3]), K);
            var ls = tape.RepeatRows(tape.Linear(h, ps[4], ps[5]), K);
            var z = tape.Add(mu, tape.Mul(tape.Exp(ls), tape.Constant(eps)));
            var hd = tape.LinearTanh(z, ps[6], ps[7]);
            var logPx = fused
                ? tape.LinearBernoulliLogLik(hd, tape.Param(ps[8]), tape.Param(ps[9]), xv)
                : tape.BernoulliLogLik(tape.Linear(hd, ps[8], ps[9]), tape.RepeatRows(xv, K));
            var logW = tape.Sub(tape.Add(logPx, tape.StandardNormalLogDensity(z)), tape.GaussianLogDensity(z, mu, ls));
            var lw = tape.Transpose(tape.Reshape(logW, K, B));                       // [B,k]
            var w = tape.StopGradient(tape.Softmax(lw, 1));
            var loss = tape.Neg(tape.Mean(tape.Sum(tape.Mul(w, lw), 1)));
            float bound = tape.Mean(tape.LogSumExp(lw, 1)).Item;
            ps.ZeroGrad();
            tape.Backward(loss);
            adam.Step();
            tape.Reset();
            return bound;
        }

        float last = Step();
        Assert.That(LeastAllocated(() => last = Step(), warmup: 1), Is.Zero, "bytes allocated by 5 steps after the first");
        Assert.That(float.IsFinite(last), Is.True);
    }
}
