// The plan's configuration examples (examples/*.json at the repository root), bundled by Vite,
// so an admin can start from a whole, working agent.
import appointmentScheduler from "../../../../examples/appointment_scheduler.json";
import carService from "../../../../examples/car_service.json";
import dentalClinic from "../../../../examples/dental_clinic.json";
import restaurantReservations from "../../../../examples/restaurant_reservations.json";
import saasLeadQualifier from "../../../../examples/saas_lead_qualifier.json";
import salesQualifier from "../../../../examples/sales_qualifier.json";

export interface Example {
  id: string;
  label: string;
  document: Record<string, unknown>;
}

export const EXAMPLES: readonly Example[] = [
  { id: "appointment_scheduler", label: "Appointment scheduler", document: appointmentScheduler },
  { id: "sales_qualifier", label: "Sales qualifier", document: salesQualifier },
  { id: "restaurant_reservations", label: "Restaurant reservations", document: restaurantReservations },
  { id: "saas_lead_qualifier", label: "SaaS lead qualifier", document: saasLeadQualifier },
  { id: "dental_clinic", label: "Dental clinic", document: dentalClinic },
  { id: "car_service", label: "Car service", document: carService },
];
