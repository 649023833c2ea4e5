using System.IO.Compression;
using Iwae.Autodiff;
using Iwae.Core.Checkpoints;
using Iwae.Datasets;

namespace Iwae.Tests.Datasets;

/// <summary>
/// Randomly corrupted files, fixed seeds: the readers may accept a file that is still valid, but the only
/// exception they may ever throw is their documented format error.
/// </summary>
public class FuzzTests
{
    private string _dir = "";

    [OneTimeSetUp]
    public void MakeDir() => Directory.CreateDirectory(_dir = Path.Combine(Path.GetTempPath(), "iwae-fuzz-" + Guid.NewGuid().ToString("N")[..8]));

    [OneTimeTearDown]
    public void RemoveDir() => Directory.Delete(_dir, recursive: true);

    private static byte[] IdxImages(int count, int rows, int cols)
    {
        var bytes = new byte[16 + count * rows * cols];
        void Int(int at, int v) { bytes[at] = (byte)(v >> 24); bytes[at + 1] = (byte)(v >> 16); bytes[at + 2] = (byte)(v >> 8); bytes[at + 3] = (byte)v; }
        Int(0, 0x803); Int(4, count); Int(8, rows); Int(12, cols);
        for (int i = 16; i < bytes.Length; i++) bytes[i] = (byte)(i * 37);
        return bytes;
    }

    private static byte[] Gzip(byte[] plain)
    {
        using var ms = new MemoryStream();
        using (var gz = new GZipStream(ms, CompressionLevel.Fastest)) gz.Write(plain);
        return ms.ToArray();
    }

    /// <summary>One random corruption: flipped bytes, a truncation, an insertion, a random header field, or several.</summary>
    internal static byte[] Corrupt(byte[] src, Rng rng)
    {
        var b = src.ToList();
        int edits = 1 + rng.NextInt(3);
        for (int e = 0; e < edits && b.Count > 0; e++)
        {
            switch (rng.NextInt(5))
            {
                case 0: b[rng.NextInt(b.Count)] ^= (byte)(1 + rng.NextInt(255)); break;
                case 1: Truncate(b, rng.NextInt(b.Count)); break;
                case 2: b.Insert(rng.NextInt(b.Count + 1), (byte)rng.NextInt(256)); break;
                case 3: int at = rng.NextInt(Math.Min(b.Count, 24)); b[at] = (byte)rng.NextInt(256); break;
                default: b.RemoveRange(rng.NextInt(b.Count), 1); break;
            }
        }
        return b.ToArray();
    }

    private static void Truncate(List<byte> b, int at) => b.RemoveRange(at, b.Count - at);

    [TestCase(false)]
    [TestCase(true)]
    public void IdxReader_OnlyEverThrowsDataFormatException(bool gzip)
    {
        var valid = IdxImages(4, 5, 3);
        if (gzip) valid = Gzip(valid);
        var rng = new Rng(gzip ? 11UL : 12UL);
        string path = Path.Combine(_dir, gzip ? "fuzz.idx.gz" : "fuzz.idx");
        int rejected = 0;
        const int cases = 1500;
        for (int i = 0; i < cases; i++)
        {
            File.WriteAllBytes(path, Corrupt(valid, rng));
            try
            {
                var img = IdxReader.ReadImages(path);
                Assert.That(img.Pixels, Has.Length.EqualTo(img.Count * img.Rows * img.Cols), $"case {i}: an accepted file is consistent");
            }
            catch (DataFormatException e)
            {
                rejected++;
                Assert.That(e.Message, Does.Contain(path).And.Not.Contain("\n"), $"case {i}");
            }
            catch (Exception e)
            {
                Assert.Fail($"case {i}: {e.GetType().Name}: {e.Message}");
            }
            try { IdxReader.ReadLabels(path); }
            catch (DataFormatException) { }
            catch (Exception e) { Assert.Fail($"case {i} (labels): {e.GetType().Name}: {e.Message}"); }
        }
        Assert.That(rejected, Is.GreaterThan(cases / 2), "most corruptions are detected");
    }

    [Test]
    public void CheckpointReader_OnlyEverThrowsCheckpointFormatException()
    {
        var rng = new Rng(21);
        var ps = new[] { new Parameter<float>("a.W", Tensor<float>.Full(3, 2, 0.5f)), new Parameter<float>("a.b", Tensor<float>.Full(1, 2, -1f)) };
        var adam = new Adam<float>(ps);
        string valid = Path.Combine(_dir, "valid.safetensors");
        Checkpoint.Save(valid, ps, new Dictionary<string, string> { ["config"] = "{}" }, adam, new Rng(1));
        var bytes = File.ReadAllBytes(valid);
        string path = Path.Combine(_dir, "fuzz.safetensors");
        int rejected = 0;
        const int cases = 2000;
        for (int i = 0; i < cases; i++)
        {
            File.WriteAllBytes(path, Corrupt(bytes, rng));
            try
            {
                var data = Checkpoint.Load(path);
                var target = new[] { new Parameter<float>("a.W", 3, 2), new Parameter<float>("a.b", 1, 2) };
                data.CopyTo(target);
            }
            catch (CheckpointFormatException e)
            {
                rejected++;
                Assert.That(e.Message, Does.Contain(path).And.Not.Contain("\n"), $"case {i}");
            }
            catch (Exception e)
            {
                Assert.Fail($"case {i}: {e.GetType().Name}: {e.Message}");
            }
        }
        Assert.That(rejected, Is.GreaterThan(cases / 2), "most corruptions are detected");
    }
}
