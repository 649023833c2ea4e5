using Iwae.Autodiff;

namespace Iwae.Tests.Autodiff;

public class TensorTapeTests
{
    [Test]
    public void Tensor_ViewsShareStorage_AndCheckShapes()
    {
        var t = Tensor<float>.FromArray(2, 3, [1, 2, 3, 4, 5, 6]);
        var v = t.Reshape(3, 2);
        v[2, 1] = 60;
        Assert.That(t[1, 2], Is.EqualTo(60));
        Assert.That(t.RowSlice(1, 1).ToArray(), Is.EqualTo(new float[] { 4, 5, 60 }));
        Assert.That(() => t.Reshape(4, 2), Throws.ArgumentException);
        Assert.That(() => _ = t[2, 0], Throws.InstanceOf<IndexOutOfRangeException>());
        Assert.That(() => Tensor<float>.FromArray(2, 2, new float[3]), Throws.ArgumentException);
    }

    [Test]
    public void Arena_ReusesItsChunksAfterReset()
    {
        var arena = new Arena<double>(chunkSize: 16);
        var a = arena.Allocate(2, 5);
        var b = arena.Allocate(3, 3, zero: true);  // does not fit the first chunk's rest: a second chunk
        long cap = arena.Capacity;
        arena.Reset();
        var a2 = arena.Allocate(2, 5);
        var b2 = arena.Allocate(3, 3);
        Assert.That(arena.Capacity, Is.EqualTo(cap));
        a2.Span[0] = 42;
        Assert.That(a.Span[0], Is.EqualTo(42), "same storage after reset");
        Assert.That(b.ToArray(), Is.All.EqualTo(0.0));
        Assert.That(b2.Length, Is.EqualTo(9));
    }

    [Test]
    public void Backward_AccumulatesWhenAValueIsUsedTwice()
    {
        var p = new Parameter<double>("x", Tensor<double>.FromArray(1, 1, [3.0]));
        var t = new Tape<double>();
        var x = t.Param(p);
        t.Backward(t.Sum(t.Add(t.Mul(x, x), x)));   // d/dx (x^2 + x) = 2x + 1
        Assert.That(p.Grad[0, 0], Is.EqualTo(7));
        t.Reset();
        t.Backward(t.Sum(t.Param(p)));
        Assert.That(p.Grad[0, 0], Is.EqualTo(8), "parameter gradients accumulate until ZeroGrad");
        p.ZeroGrad();
        Assert.That(p.Grad[0, 0], Is.Zero);
    }

    [Test]
    public void Backward_NeedsAScalar_AndRejectsStaleOrForeignVars()
    {
        var t = new Tape<double>();
        var x = t.Constant(Tensor<double>.Zeros(2, 2));
        Assert.That(() => t.Backward(x), Throws.ArgumentException.With.Message.Contains("[1,1]"));
        var other = new Tape<double>();
        Assert.That(() => other.Tanh(x), Throws.ArgumentException.With.Message.Contains("another tape"));
        t.Reset();
        Assert.That(() => t.Tanh(x), Throws.ArgumentException.With.Message.Contains("stale"));
    }

    [Test]
    public void ConstantsGetNoGradient()
    {
        var p = new Parameter<double>("w", Tensor<double>.FromArray(1, 2, [1.0, 2.0]));
        var t = new Tape<double>();
        var c = t.Constant(Tensor<double>.FromArray(1, 2, [5.0, 6.0]));
        var y = t.Mul(t.Param(p), c);
        t.Backward(t.Sum(y));
        Assert.That(c.RequiresGrad, Is.False);
        Assert.That(c.Grad.IsNull, Is.True);
        Assert.That(p.Grad.ToArray(), Is.EqualTo(new double[] { 5, 6 }));
    }

    [Test]
    public void Rng_IsDeterministic_AndRestoresState()
    {
        var a = new Rng(42);
        var b = new Rng(42);
        for (int i = 0; i < 10; i++) Assert.That(a.NextULong(), Is.EqualTo(b.NextULong()));
        var state = a.GetState();
        double x = a.NextNormal();
        b.SetState(state);
        Assert.That(b.NextNormal(), Is.EqualTo(x));
        double sum = 0, sum2 = 0;
        var r = new Rng(7);
        for (int i = 0; i < 100_000; i++) { double z = r.NextNormal(); sum += z; sum2 += z * z; }
        Assert.That(sum / 1e5, Is.EqualTo(0).Within(0.02));
        Assert.That(sum2 / 1e5, Is.EqualTo(1).Within(0.02));
    }

    [Test]
    public void Rng_FillNormal_GivesNextNormalsSequence_AndLeavesTheSameState()
    {
        // 200,000 draws take the ziggurat's rare paths (wedges, the tail) a few thousand times.
        const int n = 200_000;
        var (a, b, c) = (new Rng(5), new Rng(5), new Rng(5));
        var f = new float[n];
        var d = new double[n];
        a.FillNormal<float>(f);
        b.FillNormal<double>(d);
        for (int i = 0; i < n; i++)
        {
            double z = c.NextNormal();
            if (d[i] != z || f[i] != (float)z) Assert.Fail($"draw {i}: FillNormal gave {d[i]} / {f[i]}, NextNormal {z}");
        }
        Assert.That(a.GetState(), Is.EqualTo(c.GetState()));
        Assert.That(b.GetState(), Is.EqualTo(c.GetState()));
    }

    [Test]
    public void Rng_FillBernoulli_GivesTheNextFloatLoop_AndLeavesTheSameState()
    {
        // Probabilities at the edges (0, 1, the smallest step above 0, the largest below 1) and in between.
        var src = new Rng(8);
        float[] edges = [0f, 1f, 1f / (1 << 24), 1f - 1f / (1 << 24), 0.5f];
        foreach (int n in new[] { 0, 1, 17, 784, 5000 })
        {
            var p = Enumerable.Range(0, n).Select(i => i % 7 < edges.Length ? edges[i % 7] : src.NextFloat()).ToArray();
            var (a, b) = (new Rng(9), new Rng(9));
            var x = Enumerable.Repeat(-1f, n + 1).ToArray();      // one value past p: must stay untouched
            a.FillBernoulli(p, x);
            var expected = p.Select(pi => b.NextFloat() < pi ? 1f : 0f).ToArray();
            Assert.That(x[..n], Is.EqualTo(expected), $"n = {n}");
            Assert.That(x[n], Is.EqualTo(-1f), $"n = {n}: wrote past p");
            Assert.That(a.GetState(), Is.EqualTo(b.GetState()), $"n = {n}");
        }
        Assert.That(() => new Rng(1).FillBernoulli(new float[3], new float[2]), Throws.ArgumentException);
    }

    [Test]
    public void Rng_NormalDraws_FollowTheNormalDistribution_IncludingTheTails()
    {
        // The ziggurat's layers, wedges and tail beyond 3.44 each have to be right for these to hold.
        var r = new Rng(11);
        const int n = 2_000_000;
        int below1 = 0, beyond3 = 0, beyond35 = 0, below0 = 0;
        double sum = 0, sum2 = 0, sum4 = 0;
        for (int i = 0; i < n; i++)
        {
            double z = r.NextNormal();
            sum += z; sum2 += z * z; sum4 += z * z * z * z;
            if (z < 1) below1++;
            if (z < 0) below0++;
            if (Math.Abs(z) > 3) beyond3++;
            if (Math.Abs(z) > 3.5) beyond35++;
        }
        Assert.That(sum / n, Is.EqualTo(0).Within(0.003));
        Assert.That(sum2 / n, Is.EqualTo(1).Within(0.004));
        Assert.That(sum4 / n, Is.EqualTo(3).Within(0.03), "kurtosis");
        Assert.That(below0 / (double)n, Is.EqualTo(0.5).Within(0.0015));
        Assert.That(below1 / (double)n, Is.EqualTo(0.841345).Within(0.0015));
        Assert.That(beyond3 / (double)n, Is.EqualTo(0.0026998).Within(0.0002));
        Assert.That(beyond35 / (double)n, Is.EqualTo(0.00046525).Within(0.00008));
        var a = new Rng(5);
        var b = new Rng(9);
        b.Reseed(5);
        Assert.That(b.NextULong(), Is.EqualTo(a.NextULong()));
    }
}
