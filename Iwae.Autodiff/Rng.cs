using System.Numerics;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;

namespace Iwae.Autodiff;

/// <summary>
/// A small, fast, seedable generator (xoshiro256** by Blackman and Vigna) whose whole state is four
/// numbers, so a checkpoint can save and restore it exactly. Same seed, same sequence, on every machine
/// and .NET version (unlike System.Random's unseeded algorithm choice).
/// </summary>
public sealed class Rng
{
    private ulong _s0, _s1, _s2, _s3;

    /// <summary>A generator seeded through SplitMix64, as the xoshiro authors recommend.</summary>
    public Rng(ulong seed)
    {
        ulong x = seed;
        _s0 = SplitMix(ref x); _s1 = SplitMix(ref x); _s2 = SplitMix(ref x); _s3 = SplitMix(ref x);
    }

    /// <summary>The full state, for checkpoints.</summary>
    public ulong[] GetState() => [_s0, _s1, _s2, _s3];

    /// <summary>Restores a state from <see cref="GetState"/>.</summary>
    public void SetState(ReadOnlySpan<ulong> state)
    {
        if (state.Length != 4) throw new ArgumentException("an Rng state has 4 values", nameof(state));
        if ((state[0] | state[1] | state[2] | state[3]) == 0) throw new ArgumentException("the all-zero Rng state is invalid", nameof(state));
        (_s0, _s1, _s2, _s3) = (state[0], state[1], state[2], state[3]);
    }

    /// <summary>A new generator whose stream is independent of this one's (seeded from it).</summary>
    public Rng Split() => new(NextULong());

    /// <summary>64 random bits.</summary>
    public ulong NextULong() => Next(ref _s0, ref _s1, ref _s2, ref _s3);

    /// <summary>One xoshiro256** step on the state (s0..s3): the output, and the state advanced.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static ulong Next(ref ulong s0, ref ulong s1, ref ulong s2, ref ulong s3)
    {
        ulong result = BitOperations.RotateLeft(s1 * 5, 7) * 9;
        ulong t = s1 << 17;
        s2 ^= s0; s3 ^= s1; s1 ^= s2; s0 ^= s3;
        s2 ^= t;
        s3 = BitOperations.RotateLeft(s3, 45);
        return result;
    }

    /// <summary>Uniform in [0, 1), 53 bits.</summary>
    public double NextDouble() => (NextULong() >> 11) * (1.0 / (1UL << 53));

    /// <summary>Uniform in [0, 1), 24 bits.</summary>
    public float NextFloat() => UnitFloat(NextULong());

    /// <summary>The top 24 bits of <paramref name="bits"/> as a float in [0, 1); they convert exactly from int as from ulong.</summary>
    private static float UnitFloat(ulong bits) => (int)(bits >> 40) * (1.0f / (1 << 24));

    /// <summary>Uniform integer in [0, n).</summary>
    public int NextInt(int n)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(n, 1);
        return (int)((NextULong() >> 33) * (ulong)n >> 31);
    }

    /// <summary>
    /// A standard normal draw by the ziggurat method (Marsaglia and Tsang 2000, 128 layers): one 64-bit draw,
    /// a table look-up and a multiply in about 99% of cases. The k=5000 evaluation draws 250,000 of these per
    /// test image, so this is not a detail.
    /// </summary>
    public double NextNormal() => Normal(NextULong());

    /// <summary>The ziggurat from a first 64-bit draw <paramref name="u"/>; rare rejections draw more from the stream.</summary>
    private double Normal(ulong u)
    {
        while (true)
        {
            int hz = (int)(u >> 32);            // signed 32-bit value
            int iz = (int)(u & 127);            // layer, from bits independent of hz
            if ((uint)Math.Abs((long)hz) < Zig.K[iz]) return hz * Zig.W[iz];
            // Outside the rectangle's core: the base strip's tail, or the wedge between two layers.
            if (iz == 0)
            {
                double x, y;
                do
                {
                    x = -Math.Log(1.0 - NextDouble()) / Zig.R;
                    y = -Math.Log(1.0 - NextDouble());
                } while (y + y < x * x);
                return hz > 0 ? Zig.R + x : -Zig.R - x;
            }
            double xw = hz * Zig.W[iz];
            if (Zig.F[iz] + NextDouble() * (Zig.F[iz - 1] - Zig.F[iz]) < Math.Exp(-0.5 * xw * xw)) return xw;
            u = NextULong();
        }
    }

    /// <summary>
    /// Fills <paramref name="dst"/> with standard normal draws: the same values, in the same order, as
    /// <see cref="NextNormal"/> would give. The generator state lives in locals through the common case (one
    /// draw, one table test: about 99% of values), which makes this several times faster than a call per value.
    /// </summary>
    public void FillNormal<T>(Span<T> dst) where T : unmanaged, IFloatingPointIeee754<T>
    {
        ulong s0 = _s0, s1 = _s1, s2 = _s2, s3 = _s3;
        ref uint kTable = ref MemoryMarshal.GetArrayDataReference(Zig.K);
        ref double wTable = ref MemoryMarshal.GetArrayDataReference(Zig.W);
        ref T d = ref MemoryMarshal.GetReference(dst);
        for (int i = 0; i < dst.Length; i++)
        {
            ulong u = Next(ref s0, ref s1, ref s2, ref s3);
            int hz = (int)(u >> 32);
            nint iz = (nint)(u & 127);                               // < 128 = the tables' length
            int sign = hz >> 31;
            uint abs = (uint)((hz ^ sign) - sign);                   // |hz|, 2^31 for int.MinValue as Math.Abs((long)hz)
            double z;
            if (abs < Unsafe.Add(ref kTable, iz)) z = hz * Unsafe.Add(ref wTable, iz);
            else
            {
                (_s0, _s1, _s2, _s3) = (s0, s1, s2, s3);
                z = Normal(u);
                (s0, s1, s2, s3) = (_s0, _s1, _s2, _s3);
            }
            Unsafe.Add(ref d, i) = T.CreateTruncating(z);
        }
        (_s0, _s1, _s2, _s3) = (s0, s1, s2, s3);
    }

    /// <summary>
    /// Bernoulli draws: <c>dst[i] = NextFloat() &lt; p[i] ? 1 : 0</c> for each i in order, the same values and the same
    /// generator state afterwards as that loop, with the state in locals (dynamic binarisation of a minibatch).
    /// </summary>
    public void FillBernoulli(ReadOnlySpan<float> p, Span<float> dst)
    {
        if (dst.Length < p.Length) throw new ArgumentException($"dst has {dst.Length} values, p has {p.Length}", nameof(dst));
        ulong s0 = _s0, s1 = _s1, s2 = _s2, s3 = _s3;
        ref float pr = ref MemoryMarshal.GetReference(p);
        ref float d = ref MemoryMarshal.GetReference(dst);
        for (int i = 0; i < p.Length; i++)
        {
            // An int select avoids a branch on grey pixels.
            int one = UnitFloat(Next(ref s0, ref s1, ref s2, ref s3)) < Unsafe.Add(ref pr, i) ? 1 : 0;
            Unsafe.Add(ref d, i) = one;
        }
        (_s0, _s1, _s2, _s3) = (s0, s1, s2, s3);
    }

    /// <summary>Restarts the stream as <c>new Rng(seed)</c> would, without allocating.</summary>
    public void Reseed(ulong seed)
    {
        ulong x = seed;
        _s0 = SplitMix(ref x); _s1 = SplitMix(ref x); _s2 = SplitMix(ref x); _s3 = SplitMix(ref x);
    }

    /// <summary>Ziggurat tables for the normal density, 128 layers (Marsaglia and Tsang 2000).</summary>
    private static class Zig
    {
        public const double R = 3.442619855899;
        public static readonly uint[] K = new uint[128];
        public static readonly double[] W = new double[128];
        public static readonly double[] F = new double[128];

        static Zig()
        {
            const double m1 = 2147483648.0, vn = 9.91256303526217e-3;
            double dn = R, tn = dn;
            double q = vn / Math.Exp(-0.5 * dn * dn);
            K[0] = (uint)(dn / q * m1);
            K[1] = 0;
            W[0] = q / m1;
            W[127] = dn / m1;
            F[0] = 1.0;
            F[127] = Math.Exp(-0.5 * dn * dn);
            for (int i = 126; i >= 1; i--)
            {
                dn = Math.Sqrt(-2.0 * Math.Log(vn / dn + Math.Exp(-0.5 * dn * dn)));
                K[i + 1] = (uint)(dn / tn * m1);
                tn = dn;
                F[i] = Math.Exp(-0.5 * dn * dn);
                W[i] = dn / m1;
            }
        }
    }

    /// <summary>Fisher-Yates shuffle.</summary>
    public void Shuffle(Span<int> values)
    {
        for (int i = values.Length - 1; i > 0; i--)
        {
            int j = NextInt(i + 1);
            (values[i], values[j]) = (values[j], values[i]);
        }
    }

    private static ulong SplitMix(ref ulong x)
    {
        ulong z = x += 0x9E3779B97F4A7C15UL;
        z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9UL;
        z = (z ^ (z >> 27)) * 0x94D049BB133111EBUL;
        return z ^ (z >> 31);
    }
}
