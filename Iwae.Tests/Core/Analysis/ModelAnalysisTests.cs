using Iwae.Autodiff;
using Iwae.Core.Analysis;
using Iwae.Core.Models;

namespace Iwae.Tests.Core.Analysis;

/// <summary>
/// <see cref="ModelAnalysis"/>: what `iwae plot` draws of a model, computed in Core. The pinned values were computed by
/// the CLI's own code (Iwae.Cli/Report/RunReport.cs and Plots/Pca.cs) before it moved here, on the same tiny models.
/// </summary>
public class ModelAnalysisTests
{
    /// <summary>An untrained 16-pixel model (a 4x4 image), its weights from seed 11, and 12 inputs with no repeated row.</summary>
    private static (Iwae<float> Model, Tensor<float> X) Tiny(int layers, int latent)
    {
        var config = layers == 1
            ? new ModelConfig { K = 2, InputSize = 16, Hidden = [6], Latent = latent }
            : new ModelConfig { K = 2, InputSize = 16, Hidden = [6], Latent = latent, Layers = 2, Hidden2 = [5], Latent2 = 2 };
        var x = Tensor<float>.Zeros(12, 16);
        for (int i = 0; i < x.Length; i++) x.Span[i] = i * 37 % 101 / 100f;
        return (Iwae<float>.Create(config, new Rng(11)), x);
    }

    private static readonly AnalysisOptions FourReconstructions = new() { Reconstructions = 4 };

    [Test]
    public void OneLayer_ThreeDimensionalLatent_MatchesWhatTheCliComputed()
    {
        var (model, x) = Tiny(layers: 1, latent: 3);
        var a = ModelAnalysis.Of(model, x, FourReconstructions);
        Assert.That(new[] { a.LatentMeans[0, 0], a.LatentMeans[0, 1], a.LatentMeans[1, 0], a.LatentMeans[11, 2] },
            Is.EqualTo(new[] { -0.06030697003006935, -0.04553455486893654, -0.15675874054431915, 1.0842316150665283 }).Within(1e-6));
        Assert.That(a.Latent.IsPrincipal, Is.True);
        Assert.That(new[] { a.Latent.X[0], a.Latent.X[5], a.Latent.Y[0], a.Latent.Y[11] },
            Is.EqualTo(new[] { -0.23886154508275545, -0.2233161774918349, -0.16678486062200432, -0.2470526775342811 }).Within(1e-6));
        Assert.That(a.Latent.Explained, Is.EqualTo(new[] { 0.5962870129619289, 0.3727010144206571 }).Within(1e-6));
        var rec = a.Reconstructions!.Value;
        Assert.That(new[] { rec[0, 0], rec[1, 5], rec[3, 15] }, Is.EqualTo(new[] { 0.39282646775245667, 0.3707996904850006, 0.6282998323440552 }).Within(1e-6));
        var prior = a.PriorSamples!.Value;
        Assert.That(new[] { prior[0, 0], prior[7, 3], prior[31, 15] }, Is.EqualTo(new[] { 0.6784809827804565, 0.3972427248954773, 0.627489447593689 }).Within(1e-6));
        Assert.That(a.Manifold, Is.Null, "a 3-D latent has no manifold grid");
        Assert.That(a.ManifoldSide, Is.Zero);
    }

    [Test]
    public void OneLayer_TwoDimensionalLatent_MatchesWhatTheCliComputed_WithTheManifold()
    {
        var (model, x) = Tiny(layers: 1, latent: 2);
        var a = ModelAnalysis.Of(model, x, FourReconstructions);
        Assert.That(new[] { a.LatentMeans[0, 0], a.LatentMeans[0, 1], a.LatentMeans[1, 0], a.LatentMeans[11, 1] },
            Is.EqualTo(new[] { 0.6065937876701355, -0.4572218656539917, 0.48754623532295227, -0.9045434594154358 }).Within(1e-6));
        Assert.That(a.Latent.IsPrincipal, Is.False, "a 2-D latent is drawn as it is");
        Assert.That(a.Latent.X, Is.EqualTo(Enumerable.Range(0, 12).Select(r => (double)a.LatentMeans[r, 0])));
        Assert.That(a.Latent.Y, Is.EqualTo(Enumerable.Range(0, 12).Select(r => (double)a.LatentMeans[r, 1])));
        var rec = a.Reconstructions!.Value;
        Assert.That(new[] { rec[0, 0], rec[1, 5], rec[3, 15] }, Is.EqualTo(new[] { 0.4981444478034973, 0.4637594521045685, 0.5091807842254639 }).Within(1e-6));
        var prior = a.PriorSamples!.Value;
        Assert.That(new[] { prior[0, 0], prior[7, 3], prior[31, 15] }, Is.EqualTo(new[] { 0.44433844089508057, 0.48790523409843445, 0.4927574098110199 }).Within(1e-6));
        var grid = a.Manifold!.Value;
        Assert.That((grid.Rows, grid.Cols, a.ManifoldSide), Is.EqualTo((15 * 15, 16, 15)));
        Assert.That(new[] { grid[0, 0], grid[112, 7], grid[224, 15] }, Is.EqualTo(new[] { 0.4857489764690399, 0.5, 0.5085400938987732 }).Within(1e-6));
    }

    [Test]
    public void TwoLayers_MatchWhatTheCliComputed_AndHaveNoManifold()
    {
        var (model, x) = Tiny(layers: 2, latent: 3);
        var a = ModelAnalysis.Of(model, x, FourReconstructions);
        Assert.That(a.Latent.Explained, Is.EqualTo(new[] { 0.5962870129619289, 0.3727010144206571 }).Within(1e-6), "the same encoder as one layer's: h1");
        var rec = a.Reconstructions!.Value;
        Assert.That(new[] { rec[0, 0], rec[1, 5], rec[3, 15] }, Is.EqualTo(new[] { 0.6219079494476318, 0.4551216959953308, 0.4344747066497803 }).Within(1e-6));
        var prior = a.PriorSamples!.Value;
        Assert.That(new[] { prior[0, 0], prior[7, 3], prior[31, 15] }, Is.EqualTo(new[] { 0.5774614810943604, 0.7067634463310242, 0.49048376083374023 }).Within(1e-6));
        Assert.That(a.Manifold, Is.Null);

        var (flat, _) = Tiny(layers: 2, latent: 2);
        Assert.That(ModelAnalysis.Of(flat, x).Manifold, Is.Null, "a 2-D h1 under h2 is not a 2-D prior: no grid");
    }

    [Test]
    public void TheSameModelAndInputs_GiveTheSameBits()
    {
        var (model, x) = Tiny(layers: 1, latent: 2);
        var a = ModelAnalysis.Of(model, x);
        var b = ModelAnalysis.Of(model, x);
        Assert.That(b.LatentMeans.ToArray(), Is.EqualTo(a.LatentMeans.ToArray()));
        Assert.That(b.Latent.X, Is.EqualTo(a.Latent.X));
        Assert.That(b.Reconstructions!.Value.ToArray(), Is.EqualTo(a.Reconstructions!.Value.ToArray()));
        Assert.That(b.PriorSamples!.Value.ToArray(), Is.EqualTo(a.PriorSamples!.Value.ToArray()));
        Assert.That(b.Manifold!.Value.ToArray(), Is.EqualTo(a.Manifold!.Value.ToArray()));
    }

    [Test]
    public void Shapes_FollowTheOptions_AndZeroLeavesAPartOut()
    {
        var (model, x) = Tiny(layers: 1, latent: 2);
        var a = ModelAnalysis.Of(model, x);
        Assert.That((a.LatentMeans.Rows, a.LatentMeans.Cols), Is.EqualTo((12, 2)));
        Assert.That(a.Reconstructions!.Value.Rows, Is.EqualTo(12), "16 asked for, 12 inputs there");
        Assert.That((a.PriorSamples!.Value.Rows, a.PriorSamples.Value.Cols), Is.EqualTo((32, 16)));

        var none = ModelAnalysis.Of(model, x, new AnalysisOptions().WithoutImages());
        Assert.That(none.Reconstructions, Is.Null);
        Assert.That(none.PriorSamples, Is.Null);
        Assert.That(none.Manifold, Is.Null);
        Assert.That(none.LatentMeans.ToArray(), Is.EqualTo(a.LatentMeans.ToArray()));

        Assert.That(() => ModelAnalysis.Of(model, Tensor<float>.Zeros(3, 15)), Throws.ArgumentException, "inputs of another size");
    }

    [Test]
    public void PriorSeed_ChoosesTheDraws()
    {
        var (model, x) = Tiny(layers: 1, latent: 2);
        var a = ModelAnalysis.Of(model, x, new AnalysisOptions { PriorSamples = 4 });
        var same = Sampling.DecoderMeans(model, Sampling.PriorSamples(model, 4, new Rng(new AnalysisOptions().PriorSeed)));
        Assert.That(a.PriorSamples!.Value.ToArray(), Is.EqualTo(same.ToArray()));
        var other = ModelAnalysis.Of(model, x, new AnalysisOptions { PriorSamples = 4, PriorSeed = 1 });
        Assert.That(other.PriorSamples!.Value.ToArray(), Is.Not.EqualTo(same.ToArray()));
    }

    [Test]
    public void EncoderMeans_InChunks_EqualOneEncodingOfEveryInput()
    {
        // More inputs than one chunk: the chunked means are the encoder's mean of each row, as one pass would give.
        var (model, _) = Tiny(layers: 1, latent: 3);
        int n = ModelAnalysis.Chunk + 37;
        var x = Tensor<float>.Zeros(n, 16);
        for (int i = 0; i < x.Length; i++) x.Span[i] = i * 37 % 101 / 100f;
        var chunked = ModelAnalysis.EncoderMeans(model, x);
        var t = new Tape<float> { NoGrad = true };
        var whole = model.Encoder.Encode(t, t.Constant(x)).Mu.Value.ToArray();
        Assert.That(chunked.ToArray(), Is.EqualTo(whole).Within(1e-6));
    }

    [Test]
    public void ManifoldGrid_IsSymmetricGaussianQuantiles()
    {
        var z = ModelAnalysis.ManifoldGrid(3);
        Assert.That((z.Rows, z.Cols), Is.EqualTo((9, 2)));
        Assert.That(z[0, 0], Is.EqualTo(-1.6448536).Within(1e-5), "z1 at p = 0.05");
        Assert.That(z[0, 1], Is.EqualTo(1.6448536).Within(1e-5), "z2 at p = 0.95 in the top row");
        Assert.That(z[4, 0], Is.EqualTo(0).Within(1e-7), "the centre");
        Assert.That(z[8, 1], Is.EqualTo(-1.6448536).Within(1e-5), "z2 at p = 0.05 in the bottom row");
        Assert.That(ModelAnalysis.NormalQuantile(0.975), Is.EqualTo(1.959964).Within(1e-6));
        Assert.That(ModelAnalysis.NormalQuantile(0.001), Is.EqualTo(-3.090232).Within(1e-6));
        Assert.That(() => ModelAnalysis.NormalQuantile(1), Throws.InstanceOf<ArgumentOutOfRangeException>());
    }
}
