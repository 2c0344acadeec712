/*
 * Double-precision CPU benchmark (bare metal): an n-body simulation of five bodies (sun and
 * four outer planets, in solar masses, AU and years), dense matrix multiplication and a
 * Newton-iteration square-root/division mix. Each phase checks itself (energy conservation,
 * matrix identity, agreement with the hardware sqrt); main() returns 0 or the failing check.
 */
#ifndef STEPS
#define STEPS 60000
#endif
#ifndef ROUNDS
#define ROUNDS 4
#endif

#define PI 3.141592653589793
#define SOLAR_MASS (4 * PI * PI)
#define DAYS_PER_YEAR 365.24
#define NB 5

struct body {
  double x, y, z, vx, vy, vz, mass;
};

static struct body bodies[NB];

static void init_bodies(void) {
  static const double init[NB][7] = {
      {0, 0, 0, 0, 0, 0, SOLAR_MASS},
      {4.84143144246472090e+00, -1.16032004402742839e+00, -1.03622044471123109e-01, 1.66007664274403694e-03,
       7.69901118419740425e-03, -6.90460016972063023e-05, 9.54791938424326609e-04},
      {8.34336671824457987e+00, 4.12479856412430479e+00, -4.03523417114321381e-01, -2.76742510726862411e-03,
       4.99852801234917238e-03, 2.30417297573763929e-05, 2.85885980666130812e-04},
      {1.28943695621391310e+01, -1.51111514016986312e+01, -2.23307578892655734e-01, 2.96460137564761618e-03,
       2.37847173959480950e-03, -2.96589568540237556e-05, 4.36624404335156298e-05},
      {1.53796971148509165e+01, -2.59193146099879641e+01, 1.79258772950371181e-01, 2.68067772490389322e-03,
       1.62824170038242295e-03, -9.51592254519715870e-05, 5.15138902046611451e-05},
  };
  for (int i = 0; i < NB; i++) {
    bodies[i].x = init[i][0];
    bodies[i].y = init[i][1];
    bodies[i].z = init[i][2];
    bodies[i].vx = init[i][3] * (i ? DAYS_PER_YEAR : 0);
    bodies[i].vy = init[i][4] * (i ? DAYS_PER_YEAR : 0);
    bodies[i].vz = init[i][5] * (i ? DAYS_PER_YEAR : 0);
    bodies[i].mass = init[i][6] * (i ? SOLAR_MASS : 1);
  }
  /* Give the sun the momentum that makes the system's total zero. */
  double px = 0, py = 0, pz = 0;
  for (int i = 0; i < NB; i++) {
    px += bodies[i].vx * bodies[i].mass;
    py += bodies[i].vy * bodies[i].mass;
    pz += bodies[i].vz * bodies[i].mass;
  }
  bodies[0].vx = -px / SOLAR_MASS;
  bodies[0].vy = -py / SOLAR_MASS;
  bodies[0].vz = -pz / SOLAR_MASS;
}

static double energy(void) {
  double e = 0;
  for (int i = 0; i < NB; i++) {
    struct body *b = &bodies[i];
    e += 0.5 * b->mass * (b->vx * b->vx + b->vy * b->vy + b->vz * b->vz);
    for (int j = i + 1; j < NB; j++) {
      double dx = b->x - bodies[j].x, dy = b->y - bodies[j].y, dz = b->z - bodies[j].z;
      e -= b->mass * bodies[j].mass / __builtin_sqrt(dx * dx + dy * dy + dz * dz);
    }
  }
  return e;
}

static void advance(double dt) {
  for (int i = 0; i < NB; i++) {
    struct body *b = &bodies[i];
    for (int j = i + 1; j < NB; j++) {
      struct body *c = &bodies[j];
      double dx = b->x - c->x, dy = b->y - c->y, dz = b->z - c->z;
      double d2 = dx * dx + dy * dy + dz * dz;
      double mag = dt / (d2 * __builtin_sqrt(d2));
      b->vx -= dx * c->mass * mag;
      b->vy -= dy * c->mass * mag;
      b->vz -= dz * c->mass * mag;
      c->vx += dx * b->mass * mag;
      c->vy += dy * b->mass * mag;
      c->vz += dz * b->mass * mag;
    }
  }
  for (int i = 0; i < NB; i++) {
    bodies[i].x += dt * bodies[i].vx;
    bodies[i].y += dt * bodies[i].vy;
    bodies[i].z += dt * bodies[i].vz;
  }
}

static double fabs_(double x) { return x < 0 ? -x : x; }

static int nbody_phase(void) {
  init_bodies();
  double e0 = energy();
  for (int s = 0; s < STEPS; s++) advance(0.01);
  double e1 = energy();
  /* Symplectic Euler keeps energy within a small relative band. */
  if (!(e0 < 0) || fabs_((e1 - e0) / e0) > 1e-3) return 1;
  return 0;
}

#define N 64
static double a[N][N], b[N][N], c[N][N];

static int matrix_phase(int round) {
  for (int i = 0; i < N; i++)
    for (int j = 0; j < N; j++) {
      a[i][j] = (double)((i * 7 + j * 3 + round) % 17) / 16.0 - 0.5;
      b[i][j] = (double)((i * 5 + j * 11 + round) % 13) / 12.0 - 0.5;
    }
  for (int i = 0; i < N; i++)
    for (int j = 0; j < N; j++) {
      double s = 0;
      for (int k = 0; k < N; k++) s += a[i][k] * b[k][j];
      c[i][j] = s;
    }
  /* trace(A B) computed directly as sum_ik A_ik B_ki must match the product's trace. */
  double t1 = 0, t2 = 0;
  for (int i = 0; i < N; i++) t1 += c[i][i];
  for (int i = 0; i < N; i++)
    for (int k = 0; k < N; k++) t2 += a[i][k] * b[k][i];
  return fabs_(t1 - t2) <= 1e-9 * (1 + fabs_(t1)) ? 0 : 2;
}

/* Newton's method for 1/sqrt(x) against the hardware square root and division. */
static int newton_phase(void) {
  for (int i = 1; i <= 2000; i++) {
    double x = (double)i * 0.37 + 0.01;
    double y = 1.0 / (x < 1 ? 1 : x);
    for (int k = 0; k < 30; k++) y = y * (1.5 - 0.5 * x * y * y);
    double ref = 1.0 / __builtin_sqrt(x);
    if (fabs_(y - ref) > 1e-12 * ref) return 3;
  }
  return 0;
}

int main(void) {
  for (int r = 0; r < ROUNDS; r++) {
    int e;
    if ((e = nbody_phase())) return e;
    if ((e = matrix_phase(r))) return e;
    if ((e = newton_phase())) return e;
  }
  return 0;
}
